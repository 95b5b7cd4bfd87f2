// Command-line entry of the tool.
"use strict";
const helpers = require("./helpers");
import defaultThing, { other } from "../shared.mjs";

/**
 * Parses arguments. Returns an object.
 */
function parseArgs(argv) {
  return helpers.split(argv);
}

class Runner extends EventEmitter {
  /** Runs everything. */
  run(args) {
    this.emit("start");
    return parseArgs(args);
  }
}

const main = () => new Runner().run(process.argv);

module.exports = { main };
