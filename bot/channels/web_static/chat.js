"use strict";
// The web chat: one random, unguessable sender id per browser, kept in localStorage.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");

  const firstVisit = !localStorage.getItem("chat.sender_id");
  function senderId() {
    let id = localStorage.getItem("chat.sender_id");
    if (!id) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem("chat.sender_id", id);
    }
    return id;
  }
  const sender = senderId();
  // While the conversation waits for a volunteer, a lasting line says so, with a way to stop
  // waiting: the server's own cancel button (an opaque key) is reused.
  const waiting = document.getElementById("waiting");
  const CANCEL_TITLE = "Thôi, hỏi trợ lý ảo";
  let cancelPayload = null;
  document.getElementById("cancel-wait").addEventListener("click", () => {
    if (cancelPayload) send(cancelPayload, CANCEL_TITLE);
  });
  function showWaiting(on) {
    waiting.hidden = !on;
    document.getElementById("cancel-wait").hidden = !cancelPayload;
  }

  function show(text, who) {
    const bubble = document.createElement("div");
    bubble.className = "msg " + who;
    bubble.textContent = text;
    log.appendChild(bubble);
    log.scrollTop = log.scrollHeight;
  }

  function showReply(reply, who) {
    for (const b of reply.buttons || []) if (b.title === CANCEL_TITLE) cancelPayload = b.payload;
    if (reply.text) show(reply.text, who);
    if (reply.buttons && reply.buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const b of reply.buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = b.title;
        button.addEventListener("click", () => {
          row.querySelectorAll("button").forEach((x) => (x.disabled = true));
          send(b.payload, b.title);
        });
        row.appendChild(button);
      }
      log.appendChild(row);
      log.scrollTop = log.scrollHeight;
    }
  }

  async function send(text, shown) {
    show(shown || text, "citizen");
    try {
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sender_id: sender, text: text }),
      });
      const body = await response.json();
      if (body.replies) {
        body.replies.forEach((r) => showReply(r, "bot"));
        showWaiting(body.about && body.about.outcome === "handoff");
      } else show("Dạ, tin nhắn chưa gửi được: " + (body.error || response.status), "error");
    } catch (err) {
      show("Dạ, không kết nối được máy chủ. Anh/chị vui lòng thử lại.", "error");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });

  // Messages that arrive later: a volunteer's reply, an answer to a question left earlier.
  const stream = new EventSource("/api/chat/stream?sender_id=" + encodeURIComponent(sender));
  stream.addEventListener("message", (event) => {
    const reply = JSON.parse(event.data);
    showReply(reply, reply.author === "volunteer" ? "volunteer" : "bot");
    if (reply.author === "volunteer") {
      waiting.querySelector("span").textContent = "Tình nguyện viên đang hỗ trợ anh/chị";
      document.getElementById("cancel-wait").hidden = true;
    }
  });

  if (firstVisit) send("xin chào", "Xin chào");
})();
