/** The application entry. */
import { helper } from "./util";
import type { Config } from "@lib/config";
import * as path from "path";
export { format } from "./format.js";
const legacy = require("./legacy");

/** Widget shows things. More words. */
export class Widget extends Base implements Drawable {
  size: number = 0;

  /** Draws the widget. */
  draw(ctx: Context): void {
    helper(this.size);
    ctx.fill();
  }
}

export interface Drawable {
  draw(ctx: Context): void;
}

export type Id = string | number;

export enum Color {
  Red,
  Green,
}

/** Starts it. */
export function start(config: Config): Widget {
  const w = new Widget();
  return w;
}

export const run = async (id: Id) => {
  await start(load(id));
};

export const LIMIT = 10;
