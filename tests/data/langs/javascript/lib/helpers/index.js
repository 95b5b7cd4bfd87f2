exports.split = (argv) => argv.slice(2);
