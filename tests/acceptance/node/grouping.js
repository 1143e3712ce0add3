// Sends the events of the grouping acceptance test with the real @sentry/node SDK; prints their ids.
// `node grouping.js first` sends the whole set, `node grouping.js again` only the first error again.
const Sentry = require("@sentry/node");

Sentry.init({ dsn: process.env.SENTRY_DSN, release: "webapp@3.4.5", environment: "acceptance" });

function chargeCard(amount) {
  throw new RangeError(`amount out of range: ${amount}`);
}

function loadProfile(id) {
  throw new TypeError(`profile ${id} is not loaded`);
}

function capture(fn, ...args) {
  try {
    fn(...args);
  } catch (err) {
    return Sentry.captureException(err);
  }
  return null;
}

async function main() {
  const ids = {};
  const again = process.argv[2] === "again";
  // One call site for every chargeCard error: JavaScript stack traces reach up to main(), whose
  // context lines are part of the grouping, so "the same code" means the same line here.
  const charged = (again ? [5] : [10, 20]).map((amount) => capture(chargeCard, amount));
  if (again) {
    ids.again = charged[0];
  } else {
    [ids.first, ids.second] = charged;
    ids.other = capture(loadProfile, 7);
    Sentry.withScope((scope) => {
      scope.setFingerprint(["checkout-failures-node"]);
      ids.fingerprint_a = capture(chargeCard, 30);
    });
    Sentry.withScope((scope) => {
      scope.setFingerprint(["checkout-failures-node"]);
      ids.fingerprint_b = capture(loadProfile, 8);
    });
  }
  await Sentry.flush(10000);
  console.log(JSON.stringify(ids));
}

main();
