"use strict";
// Drives the official Socket.IO Admin UI (@socket.io/admin-ui's built page, served by the Rust
// server at /admin-ui/) in headless Chromium (Debian's /usr/bin/chromium) with playwright-core,
// next to two chat pages. Usage: node admin-ui-browser.js <url> <screenshot.png> [<user> <password>]
//
// Steps: alice and bob join #rust on the chat page; the admin page fills its connection form
// (server URL, basic auth) and connects; its Sockets view lists both chat sockets with their
// transport; bob's socket page shows his rooms; a room joined there (on bob's socket) reaches
// bob's chat page (a system line) and the UI's room list; the Servers view lists the server.
// The page is saved as a screenshot. Requests to other hosts (the page's web fonts and icon
// CSS) are refused, so the test needs no network.

const { chromium } = require("playwright-core");
const c = require("./common");

const [url, screenshot, user, password] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const origin = new URL(url).origin;

async function offline(context) {
  await context.route("**/*", (route) =>
    new URL(route.request().url()).origin === origin ? route.continue() : route.abort(),
  );
}

function watch(page, who) {
  page.on("pageerror", (e) => c.out({ pageerror: who, message: e.message }));
  page.on("response", (r) => r.status() >= 400 && c.out({ httperror: who, url: r.url(), status: r.status() }));
}

async function joinChat(browser, nick, room) {
  const context = await browser.newContext();
  await offline(context);
  const page = await context.newPage();
  watch(page, nick);
  await page.goto(url, { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById("status").textContent === "connected", null, { timeout: 10000 });
  await page.fill("#nick", nick);
  await page.fill("#room", room);
  await page.click("#join-button");
  await page.waitForFunction((r) => document.getElementById("status").textContent.startsWith("joined #" + r), room, {
    timeout: 5000,
  });
  c.out({ step: "chat-joined", nick, room });
  return page;
}

/** The UI's state (its Vuex store): the sockets of namespace `/`, to learn which is whose. */
function chatSockets(admin) {
  return admin.evaluate(() => {
    const store = document.querySelector("#app").__vue__.$store;
    const nsp = store.state.main.namespaces.find((n) => n.name === "/");
    return (nsp ? nsp.sockets : []).map((s) => ({ id: s.id, nick: s.data && s.data.nick, transport: s.transport }));
  });
}

c.main(async () => {
  const browser = await c.within(
    15000,
    "Chromium launch",
    chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }),
  );
  try {
    c.out({ step: "launched", version: browser.version() });
    await joinChat(browser, "alice", "rust");
    const bob = await joinChat(browser, "bob", "rust");

    // The admin page: its connection form.
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await offline(context);
    const admin = await context.newPage();
    watch(admin, "admin");
    await admin.goto(url + "admin-ui/", { timeout: 10000 });
    await admin.getByLabel("Server URL").fill(origin, { timeout: 10000 });
    if (user) {
      await admin.getByLabel("Username").fill(user);
      await admin.getByLabel("Password").fill(password);
    }
    await admin.getByRole("button", { name: "Connect" }).click();
    await admin.waitForFunction(() => document.querySelector("#app").__vue__.$store.state.connection.connected, null, {
      timeout: 10000,
    });
    c.out({ step: "admin-connected", auth: !!user });
    // The connection dialog closes (its transition ends) before the screenshots.
    await admin.waitForFunction(() => !document.querySelector(".v-dialog--active"), null, { timeout: 10000 });
    await admin.waitForTimeout(500);

    // The Sockets view lists both chat sockets (their data says whose), with their transport.
    await admin.goto(url + "admin-ui/#/sockets/");
    await admin.waitForFunction(
      () => {
        const store = document.querySelector("#app").__vue__.$store;
        const nsp = store.state.main.namespaces.find((n) => n.name === "/");
        return nsp && nsp.sockets.filter((s) => s.data && s.data.nick).length >= 2;
      },
      null,
      { timeout: 10000 },
    );
    const sockets = await chatSockets(admin);
    const alice = sockets.find((s) => s.nick === "alice");
    const bobSocket = sockets.find((s) => s.nick === "bob");
    c.same(!!alice && !!bobSocket, true, "the UI knows alice's and bob's sockets");
    for (const s of [alice, bobSocket]) {
      const row = admin.locator("tr", { hasText: s.id });
      await row.first().waitFor({ timeout: 10000 });
      const text = await row.first().innerText();
      c.same(text.toLowerCase().includes("websocket"), true, `the row of ${s.nick}'s socket shows its transport: ${text}`);
      c.out({ step: "listed", nick: s.nick, id: s.id, row: text.replace(/\s+/g, " ") });
    }
    await admin.waitForTimeout(1000); // the view's slide transition
    await admin.screenshot({ path: screenshot, fullPage: true });
    c.out({ step: "screenshot", path: screenshot });

    // Bob's socket page: his rooms; join one from there.
    await admin.getByText(bobSocket.id, { exact: true }).first().click();
    await admin.waitForFunction((id) => location.hash.includes(id), bobSocket.id, { timeout: 10000 });
    const rooms = admin.locator("tr", { hasText: "rust" });
    await rooms.first().waitFor({ timeout: 10000 });
    c.out({ step: "socket-page", id: bobSocket.id, rooms: "rust" });
    await admin.getByLabel("Join a room").fill("vip");
    await admin.locator("form:has(.select-room) button[type=submit]").click();
    await bob.waitForFunction(
      () => [...document.querySelectorAll("#messages li.system")].some((li) => li.textContent.includes("you are in room vip now")),
      null,
      { timeout: 10000 },
    );
    c.out({ step: "joined-from-ui", seenBy: "bob", room: "vip" });
    await admin.locator("tr", { hasText: "vip" }).first().waitFor({ timeout: 10000 });
    c.out({ step: "ui-room-listed", room: "vip" });
    await admin.waitForTimeout(500);
    await admin.screenshot({ path: screenshot.replace(/\.png$/, "-socket.png"), fullPage: true });

    // The Servers view lists this server.
    await admin.goto(url + "admin-ui/#/servers/");
    await admin.getByText("admin-ui-test").first().waitFor({ timeout: 10000 });
    c.out({ step: "server-listed", serverId: "admin-ui-test" });
  } finally {
    await browser.close().catch(() => {});
  }
});
