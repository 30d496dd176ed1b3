"use strict";
// Drives the chat page in headless Chromium (Debian's /usr/bin/chromium) with playwright-core:
// two pages (separate browser contexts) join one room, exchange messages, see each other's
// messages, the acks, the member list and the typing notice. Usage: node chat-browser.js <url>
// [<url2>]: with a second URL (another instance of a cluster), the second page opens that one.

const { chromium } = require("playwright-core");
const c = require("./common");

const [url, url2] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

async function joinAs(context, nick, room, at = url) {
  const page = await context.newPage();
  page.on("console", (m) => c.out({ console: nick, type: m.type(), text: m.text() }));
  page.on("requestfailed", (r) => c.out({ requestfailed: nick, url: r.url() }));
  page.on("response", (r) => r.status() >= 400 && c.out({ httperror: nick, url: r.url(), status: r.status() }));
  page.on("pageerror", (e) => c.out({ pageerror: nick, message: e.message }));
  await page.goto(at, { timeout: 10000 });
  const official = await page.evaluate(
    () => typeof io === "function" && typeof io.Manager === "function" && typeof io.Socket === "function",
  );
  c.same(official, true, "the page runs the official socket.io client bundle (window.io)");
  await page.waitForFunction(() => document.getElementById("status").textContent === "connected", null, { timeout: 10000 });
  await page.fill("#nick", nick);
  await page.fill("#room", room);
  await page.click("#join-button");
  await page.waitForFunction(
    (r) => document.getElementById("status").textContent.startsWith("joined #" + r),
    room,
    { timeout: 5000 },
  );
  c.out({ step: "joined", nick, room });
  return page;
}

async function send(page, text) {
  await page.fill("#text", text);
  await page.click("#send");
  await page.waitForFunction(
    (t) => [...document.querySelectorAll("#messages li.own.acked .text")].some((e) => e.textContent === t),
    text,
    { timeout: 5000 },
  );
}

async function sees(page, nick, text) {
  await page.waitForFunction(
    ([n, t]) =>
      [...document.querySelectorAll("#messages li.message:not(.own)")].some(
        (li) => li.querySelector(".nick").textContent === n && li.querySelector(".text").textContent === t,
      ),
    [nick, text],
    { timeout: 5000 },
  );
}

c.main(async () => {
  // playwright gives every launch a fresh temporary profile (user-data-dir) of its own.
  const browser = await c.within(
    15000,
    "Chromium launch",
    chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    }),
  );
  try {
    c.out({ step: "launched", version: browser.version() });
    const alice = await joinAs(await browser.newContext(), "alice", "rust");
    const bob = await joinAs(await browser.newContext(), "bob", "rust", url2 || url);

    await alice.waitForFunction(
      () => [...document.querySelectorAll("#members li")].map((e) => e.textContent).sort().join(",") === "alice,bob",
      null,
      { timeout: 5000 },
    );
    c.out({ step: "members", page: "alice", members: ["alice", "bob"] });

    await send(alice, "hello from alice");
    c.out({ step: "acked", nick: "alice" });
    await sees(bob, "alice", "hello from alice");
    c.out({ step: "received", by: "bob", from: "alice" });

    // Typing notice: bob types, alice sees it.
    await bob.fill("#text", "");
    await bob.type("#text", "hi al", { delay: 20 });
    await alice.waitForFunction(
      () => document.getElementById("typing").textContent === "bob is typing…",
      null,
      { timeout: 5000 },
    );
    c.out({ step: "typing", seenBy: "alice" });

    await send(bob, "hi alice, bob here");
    await sees(alice, "bob", "hi alice, bob here");
    c.out({ step: "received", by: "alice", from: "bob" });
    await alice.waitForFunction(() => document.getElementById("typing").textContent === "", null, { timeout: 5000 });

    // A third page in another room does not see the conversation.
    const carol = await joinAs(await browser.newContext(), "carol", "other");
    await send(alice, "only for #rust");
    await sees(bob, "alice", "only for #rust");
    const leaked = await carol.evaluate(() => document.querySelectorAll("#messages li.message").length);
    c.same(leaked, 0, "messages stay in their room");
    c.out({ step: "rooms-isolated" });

    // Bob leaves: alice gets a system notice and the member list shrinks.
    await bob.close();
    await alice.waitForFunction(
      () => [...document.querySelectorAll("#members li")].map((e) => e.textContent).join(",") === "alice",
      null,
      { timeout: 5000 },
    );
    c.out({ step: "left", nick: "bob" });
  } finally {
    await browser.close().catch(() => {});
  }
});
