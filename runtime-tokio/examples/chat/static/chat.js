// The chat page: talks to the Rust server with the official socket.io client (window.io).
// Events: "join" {nick, room} -> ack {room, members} | {error}; "message" {text} -> ack {id, ts};
// "typing" bool. From the server: "message" {id, nick, text, ts}, "system" {text},
// "members" [nick…], "typing" {nick, typing}, "room-joined" {room} (e.g. from the Admin UI).
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const socket = io({ transports: ["websocket", "polling"] });
  let me = null;
  let typingTimer = null;
  let typingSent = false;
  const typers = new Map();

  const setStatus = (text) => { $("status").textContent = text; };
  socket.on("connect", () => {
    setStatus("connected");
    if (me) join(me.nick, me.room); // rejoin after a reconnection
  });
  socket.on("disconnect", (reason) => setStatus("disconnected (" + reason + ")"));
  socket.on("connect_error", (err) => setStatus("connection error: " + err.message));

  function addMessage({ nick, text, own, system, id }) {
    const li = document.createElement("li");
    li.className = system ? "system" : own ? "message own pending" : "message";
    if (id) li.dataset.id = id;
    if (system) {
      li.textContent = text;
    } else {
      const n = document.createElement("span");
      n.className = "nick";
      n.textContent = nick;
      const t = document.createElement("span");
      t.className = "text";
      t.textContent = text;
      li.append(n, t);
      if (own) {
        const s = document.createElement("span");
        s.className = "state";
        s.textContent = "sending…";
        li.append(s);
      }
    }
    $("messages").append(li);
    li.scrollIntoView({ block: "end" });
    return li;
  }

  function renderMembers(members) {
    $("members").replaceChildren(...members.map((m) => {
      const li = document.createElement("li");
      li.textContent = m;
      return li;
    }));
  }

  function renderTyping() {
    const names = [...typers.keys()];
    $("typing").textContent = names.length === 0 ? "" :
      names.join(", ") + (names.length === 1 ? " is typing…" : " are typing…");
  }

  function join(nick, room) {
    socket.timeout(5000).emit("join", { nick, room }, (err, res) => {
      if (err || res.error) {
        $("join-error").textContent = err ? "no answer from the server" : res.error;
        $("join-error").hidden = false;
        return;
      }
      me = { nick, room: res.room };
      $("join-error").hidden = true;
      $("chat").hidden = false;
      $("room-title").textContent = "#" + res.room;
      renderMembers(res.members);
      typers.clear();
      renderTyping();
      setStatus("joined #" + res.room + " as " + nick);
      $("text").focus();
    });
  }

  $("join-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const nick = $("nick").value.trim();
    const room = $("room").value.trim();
    if (nick && room) join(nick, room);
  });

  $("message-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value.trim();
    if (!text || !me) return;
    $("text").value = "";
    stopTyping();
    const li = addMessage({ nick: me.nick, text, own: true });
    socket.timeout(5000).emit("message", { text }, (err, ack) => {
      const state = li.querySelector(".state");
      if (err) {
        li.classList.replace("pending", "failed");
        state.textContent = "not delivered";
        return;
      }
      li.dataset.id = ack.id;
      li.classList.replace("pending", "acked");
      state.textContent = "✓";
    });
  });

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingSent) socket.emit("typing", false);
    typingSent = false;
  }
  $("text").addEventListener("input", () => {
    if (!me) return;
    if (!typingSent) socket.emit("typing", true);
    typingSent = true;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 2000);
  });

  socket.on("message", (m) => {
    typers.delete(m.nick);
    renderTyping();
    addMessage({ nick: m.nick, text: m.text, id: m.id });
  });
  socket.on("system", (m) => addMessage({ text: m.text, system: true }));
  socket.on("room-joined", (m) => addMessage({ text: "you are in room " + m.room + " now", system: true }));
  socket.on("members", renderMembers);
  socket.on("typing", ({ nick, typing }) => {
    if (typing) typers.set(nick, true); else typers.delete(nick);
    renderTyping();
  });
})();
