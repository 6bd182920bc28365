/// The operator's page at `GET /`: the list of unprocessed requests (open callbacks), oldest first.
///
/// One self-contained document (inline CSS and script, no external assets) that asks
/// `/api/callbacks` every two seconds and updates the table in place, without reloading: rows are keyed by
/// callback id and only the text that changed is written, so an operator's selection (a phone number
/// being copied) survives the updates. Callbacks are
/// blue, overdue ones red; ages tick every second between two answers. With `METRIKA_HTTP_TOKEN` set,
/// open it as `/#token=…`: the fragment never leaves the browser, and the script sends it as a bearer token.
enum OperatorPage {
    /// Headers of the page: no caching, and a content security policy that allows nothing from elsewhere.
    static let headers: [(name: String, value: String)] = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy",
         "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        ("Referrer-Policy", "no-referrer"),
    ]

    static let html = #"""
        <!doctype html>
        <html lang="ru">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Необработанные перезвоны — Метрика</title>
        <style>
          :root { --blue: #dbeafe; --blue-edge: #1d4ed8; --red: #fee2e2; --red-edge: #b91c1c; --text: #111827; --muted: #4b5563; }
          * { box-sizing: border-box; }
          html, body { margin: 0; }
          body { font: 15px/1.35 "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", Arial, sans-serif; color: var(--text); background: #f3f4f6; }
          header { position: sticky; top: 0; z-index: 1; display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 20px;
                   padding: 10px 20px; background: #1f2937; color: #fff; }
          h1 { margin: 0; font-size: 20px; font-weight: 600; }
          #summary { font-size: 15px; }
          #summary b { font-size: 17px; }
          .legend { display: flex; gap: 14px; font-size: 13px; color: #d1d5db; }
          .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; border-radius: 2px; }
          .legend .b { background: var(--blue); border: 2px solid var(--blue-edge); }
          .legend .r { background: var(--red); border: 2px solid var(--red-edge); }
          #status { margin-left: auto; font-size: 13px; color: #d1d5db; }
          #status.offline { color: #fecaca; font-weight: 600; }
          main { padding: 8px 20px 20px; }
          table { width: 100%; border-collapse: separate; border-spacing: 0 4px; table-layout: fixed; }
          th { padding: 6px 10px; font-size: 13px; font-weight: 600; color: var(--muted); text-align: left; }
          td { padding: 8px 10px; vertical-align: top; overflow-wrap: anywhere; }
          col.phone { width: 190px; } col.who { width: 30%; } col.n { width: 100px; } col.age { width: 130px; }
          tr.callback td { background: var(--blue); }
          tr.callback td:first-child { border-left: 6px solid var(--blue-edge); border-radius: 4px 0 0 4px; }
          tr.callback td:last-child { border-radius: 0 4px 4px 0; }
          tr.callback.overdue td { background: var(--red); }
          tr.callback.overdue td:first-child { border-left-color: var(--red-edge); }
          tr.callback.overdue td.age { color: var(--red-edge); font-weight: 700; }
          .phone { font-size: 16px; font-weight: 600; white-space: nowrap; font-variant-numeric: tabular-nums; }
          .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
          .sub { display: block; margin-top: 2px; font-size: 13px; color: var(--muted); }
          .note { display: block; margin-top: 3px; font-size: 13px; font-style: italic; }
          .sub:empty, .note:empty { display: none; }
          #empty { margin: 48px 0; text-align: center; font-size: 18px; color: var(--muted); }
        </style>
        </head>
        <body>
        <header>
          <h1>Необработанные перезвоны</h1>
          <span id="summary" hidden>Открыто: <b id="open-count"></b>, просрочено: <b id="overdue-count"></b></span>
          <span class="legend"><span><i class="b"></i>перезвонить</span><span><i class="r"></i>просрочено</span></span>
          <span id="status">Загрузка…</span>
        </header>
        <main>
          <table id="list" hidden>
            <colgroup><col class="phone"><col class="who"><col><col class="n"><col class="n"><col class="age"></colgroup>
            <thead><tr><th>Номер</th><th>Абонент</th><th>Адрес</th><th class="num">Пропущено</th><th class="num">Попыток</th><th class="num">Ждёт</th></tr></thead>
            <tbody id="rows"></tbody>
          </table>
          <p id="empty" hidden>Необработанных перезвонов нет.</p>
        </main>
        <script>
        "use strict";
        (function () {
          var token = new URLSearchParams(location.hash.slice(1)).get("token");
          var list = null, fetchedAt = 0, overdueAfter = 900, rows = new Map();

          function el(tag, cls) {
            var node = document.createElement(tag);
            if (cls) node.className = cls;
            return node;
          }
          function phone(e164) {
            var m = /^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(e164);
            return m ? "+7 " + m[1] + " " + m[2] + "-" + m[3] + "-" + m[4] : e164;
          }
          function age(seconds) {
            seconds = Math.max(0, Math.floor(seconds));
            if (seconds < 60) return seconds + " с";
            if (seconds < 3600) return Math.floor(seconds / 60) + " мин";
            var minutes = Math.floor(seconds % 3600 / 60);
            if (seconds < 86400) return Math.floor(seconds / 3600) + " ч " + (minutes < 10 ? "0" : "") + minutes + " мин";
            return Math.floor(seconds / 86400) + " д " + Math.floor(seconds % 86400 / 3600) + " ч";
          }
          function setText(node, text) {
            text = text === undefined || text === null ? "" : String(text);
            if (node.textContent !== text) node.textContent = text;
          }
          function setClass(node, cls) {
            if (node.className !== cls) node.className = cls;
          }
          function setHidden(node, hidden) {
            if (node.hidden !== hidden) node.hidden = hidden;
          }
          function subscriberLines(s) {
            if (s.match === "matched") {
              return [s.full_name || "—", [s.contract_no ? "договор " + s.contract_no : null, s.rs_id ? "RS " + s.rs_id : null]
                .filter(Boolean).join(", ")];
            }
            if (s.match === "ambiguous") return ["несколько абонентов: " + s.candidates.length, "RS " + s.candidates.join(", ")];
            return ["абонент не найден", ""];
          }
          function newRow(callbackId) {
            var tr = el("tr", "callback"), who = el("td");
            tr.dataset.callbackId = callbackId;
            who.append(el("span"), el("span", "sub"), el("span", "note"));
            tr.append(el("td", "phone"), who, el("td"), el("td", "num"), el("td", "num"), el("td", "num age"));
            return tr;
          }
          function updateRow(tr, callback, seconds, late) {
            var cells = tr.cells, who = cells[1].children, lines = subscriberLines(callback.subscriber);
            setClass(tr, late ? "callback overdue" : "callback");
            if (tr.dataset.ticketId !== callback.ticket_id) {
              tr.dataset.ticketId = callback.ticket_id;
              tr.title = "Тикет " + callback.ticket_id;
            }
            setText(cells[0], phone(callback.phone));
            setText(who[0], lines[0]);
            setText(who[1], lines[1]);
            setText(who[2], callback.comment);
            setText(cells[2], callback.address || "—");
            setText(cells[3], callback.missed_count);
            setText(cells[4], callback.attempts);
            setText(cells[5], age(seconds));
          }
          // Rows are keyed by callback id and changed in place (only what differs), so a selection survives.
          function render() {
            if (!list) return;
            var elapsed = (Date.now() - fetchedAt) / 1000, overdue = 0, open = new Set();
            var tbody = document.getElementById("rows"), next = tbody.firstElementChild;
            list.callbacks.forEach(function (callback) {
              var seconds = callback.age_seconds + elapsed, late = callback.overdue || seconds >= overdueAfter;
              var tr = rows.get(callback.callback_id);
              if (late) overdue += 1;
              if (!tr) {
                tr = newRow(callback.callback_id);
                rows.set(callback.callback_id, tr);
              }
              open.add(callback.callback_id);
              updateRow(tr, callback, seconds, late);
              if (tr === next) next = next.nextElementSibling;
              else tbody.insertBefore(tr, next);
            });
            rows.forEach(function (tr, callbackId) {
              if (open.has(callbackId)) return;
              tr.remove();
              rows.delete(callbackId);
            });
            setHidden(document.getElementById("list"), list.callbacks.length === 0);
            setHidden(document.getElementById("empty"), list.callbacks.length !== 0);
            setHidden(document.getElementById("summary"), false);
            setText(document.getElementById("open-count"), list.callbacks.length);
            setText(document.getElementById("overdue-count"), overdue);
            var title = (list.callbacks.length ? "(" + list.callbacks.length + ") " : "") + "Необработанные перезвоны — Метрика";
            if (document.title !== title) document.title = title;
          }
          function setStatus(text, offline) {
            var status = document.getElementById("status");
            status.textContent = text;
            status.className = offline ? "offline" : "";
          }
          function poll() {
            var controller = new AbortController(), timer = setTimeout(function () { controller.abort(); }, 5000);
            var headers = token ? { "Authorization": "Bearer " + token } : {};
            fetch("/api/callbacks", { headers: headers, cache: "no-store", signal: controller.signal })
              .then(function (response) {
                if (response.status === 401) throw new Error("нужен токен доступа: откройте страницу как /#token=…");
                if (!response.ok) throw new Error("сервер ответил " + response.status);
                return response.json();
              })
              .then(function (answer) {
                list = answer;
                fetchedAt = Date.now();
                overdueAfter = answer.overdue_after_seconds;
                render();
                document.body.dataset.loaded = "true";
                setStatus("Обновлено в " + new Date().toLocaleTimeString("ru-RU"), false);
              })
              .catch(function (error) {
                setStatus("Нет связи с сервером (" + (error.name === "AbortError" ? "нет ответа" : error.message) + "); повтор через 2 с", true);
              })
              .finally(function () { clearTimeout(timer); setTimeout(poll, 2000); });
          }
          setInterval(render, 1000);
          poll();
        })();
        </script>
        </body>
        </html>

        """#
}
