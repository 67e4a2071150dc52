// express-session's end-of-request decisions, without HTTP: each case is a request as the engine
// saw it, and what express-session 1.19 does for it (its index.js: shouldSave, shouldSetCookie).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  isModified,
  type RequestFacts,
  shouldSave,
  shouldSetCookie,
  touchDue,
} from "../../src/core/decisions.js";

const defaults = { saveUninitialized: false, rolling: false };
const browserCookie = { expires: false, signedWithOldSecret: false };
const datedCookie = { expires: true, signedWithOldSecret: false };

/** A request that brought the cookie of a stored session and changed nothing. */
function returning(over: Partial<RequestFacts> = {}): RequestFacts {
  return {
    cookieId: "A",
    originalId: "A",
    sessionId: "A",
    idValid: true,
    hasSaved: true,
    pending: false,
    written: false,
    ...over,
  };
}

/** A visitor without a cookie, whose new session nobody touched. */
function newcomer(over: Partial<RequestFacts> = {}): RequestFacts {
  return returning({ cookieId: undefined, hasSaved: false, ...over });
}

describe("decisions › a new visitor", () => {
  it("with saveUninitialized false and nothing put in the session: no write, no cookie", () => {
    assert.equal(shouldSave(newcomer(), defaults), false);
    assert.equal(shouldSetCookie(newcomer(), defaults, browserCookie), false);
  });

  it("with saveUninitialized true: written and sent even untouched", () => {
    const options = { ...defaults, saveUninitialized: true };
    assert.equal(shouldSave(newcomer(), options), true);
    assert.equal(shouldSetCookie(newcomer(), options, browserCookie), true);
  });

  it("whose session got data: written and sent", () => {
    const changed = newcomer({ pending: true });
    assert.equal(shouldSave(changed, defaults), true);
    assert.equal(shouldSetCookie(changed, defaults, browserCookie), true);
  });
});

describe("decisions › a returning visitor", () => {
  it("with resave false and no change: no write, no cookie", () => {
    assert.equal(shouldSave(returning(), defaults), false);
    assert.equal(shouldSetCookie(returning(), defaults, datedCookie), false);
  });

  it("with resave true (the session does not count as saved): written though unchanged", () => {
    assert.equal(shouldSave(returning({ hasSaved: false }), defaults), true);
  });

  it("with a change: written; the cookie is sent again only when it has an expiry to move", () => {
    const changed = returning({ pending: true });
    assert.equal(shouldSave(changed, defaults), true);
    assert.equal(shouldSetCookie(changed, defaults, browserCookie), false);
    assert.equal(shouldSetCookie(changed, defaults, datedCookie), true);
  });

  it("with rolling: the cookie goes out on every response, changed or not", () => {
    const options = { ...defaults, rolling: true };
    assert.equal(shouldSetCookie(returning(), options, browserCookie), true);
    assert.equal(shouldSave(returning(), options), false);
  });

  it("with a cookie signed by an older secret: re-sent, signed with the current one", () => {
    const old = { ...browserCookie, signedWithOldSecret: true };
    assert.equal(shouldSetCookie(returning(), defaults, old), true);
  });

  it("after the app saved its change itself: no second write, but it still counts as modified", () => {
    const saved = returning({ written: true });
    assert.equal(shouldSave(saved, defaults), false);
    assert.equal(isModified(saved), true);
    assert.equal(shouldSetCookie(saved, defaults, datedCookie), true);
  });
});

describe("decisions › a regenerated session", () => {
  it("is written and sent even empty, with saveUninitialized false (passport's logout)", () => {
    const regenerated = returning({ sessionId: "B" });
    assert.equal(isModified(regenerated), true);
    assert.equal(shouldSave(regenerated, defaults), true);
    assert.equal(shouldSetCookie(regenerated, defaults, browserCookie), true);
  });

  it("regenerated for a visitor who had no cookie: written and sent too", () => {
    const regenerated = newcomer({ sessionId: "B" });
    assert.equal(shouldSave(regenerated, defaults), true);
    assert.equal(shouldSetCookie(regenerated, defaults, browserCookie), true);
  });
});

describe("decisions › a bogus req.sessionID", () => {
  it("saves nothing and sends no cookie, whatever else happened", () => {
    const options = { saveUninitialized: true, rolling: true };
    for (const facts of [
      newcomer({ idValid: false }),
      returning({ idValid: false, pending: true }),
    ]) {
      assert.equal(shouldSave(facts, options), false);
      assert.equal(shouldSetCookie(facts, options, datedCookie), false);
    }
  });
});

describe("decisions › touchDue", () => {
  it("is always due with touchAfterMs 0, as express-session touches on every request", () => {
    assert.equal(touchDue({ createdAt: 1000, seenAt: 1000 }, 0, 1000), true);
  });

  it("is due once touchAfterMs has passed since the session was last seen", () => {
    assert.equal(touchDue({ createdAt: 0, seenAt: 10_000 }, 5000, 14_999), false);
    assert.equal(touchDue({ createdAt: 0, seenAt: 10_000 }, 5000, 15_000), true);
  });

  it("counts from creation for a session never seen since", () => {
    assert.equal(touchDue({ createdAt: 10_000 }, 5000, 14_000), false);
    assert.equal(touchDue({ createdAt: 10_000 }, 5000, 15_000), true);
  });
});
