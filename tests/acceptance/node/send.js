// Sends events to process.env.SENTRY_DSN with the real @sentry/node SDK and prints their ids as JSON.
const Sentry = require("@sentry/node");

Sentry.init({ dsn: process.env.SENTRY_DSN, release: "webapp@3.4.5", environment: "acceptance" });

function parseAmount(text) {
  const value = Number(text);
  if (Number.isNaN(value)) {
    throw new TypeError(`not a number: ${text}`);
  }
  return value;
}

async function main() {
  const ids = {};
  Sentry.setTag("runner", "node");
  Sentry.setUser({ id: "n-7", email: "node@example.com" });
  try {
    parseAmount("twelve");
  } catch (err) {
    ids.error = Sentry.captureException(err);
  }
  try {
    parseAmount("again");
  } catch (err) {
    ids.error2 = Sentry.captureException(err);
  }
  ids.cause = Sentry.captureException(new Error("outer failure", { cause: new RangeError("inner cause") }));
  ids.message = Sentry.captureMessage("node says hello", "warning");
  await Sentry.flush(10000);
  console.log(JSON.stringify(ids));
}

main();
