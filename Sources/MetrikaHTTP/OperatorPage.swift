/// The operator's page at `GET /`: the list of unprocessed requests (open callbacks), oldest first.
///
/// One self-contained document (inline CSS and script, no external assets) that asks
/// `/api/callbacks` every two seconds and redraws the table in place, without reloading. Callbacks are
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
          #empty { margin: 48px 0; text-align: center; font-size: 18px; color: var(--muted); }
        </style>
        </head>
        <body>
        <header>
          <h1>Необработанные перезвоны</h1>
          <span id="summary"></span>
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
          var list = null, fetchedAt = 0, overdueAfter = 900;

          function el(tag, cls, text) {
            var node = document.createElement(tag);
            if (cls) node.className = cls;
            if (text !== undefined && text !== null) node.textContent = text;
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
          function subscriberCell(callback) {
            var s = callback.subscriber, td = el("td");
            if (s.match === "matched") {
              td.appendChild(el("span", "", s.full_name || "—"));
              td.appendChild(el("span", "sub", [s.contract_no ? "договор " + s.contract_no : null, s.rs_id ? "RS " + s.rs_id : null]
                .filter(Boolean).join(", ")));
            } else if (s.match === "ambiguous") {
              td.appendChild(el("span", "", "несколько абонентов: " + s.candidates.length));
              td.appendChild(el("span", "sub", "RS " + s.candidates.join(", ")));
            } else {
              td.appendChild(el("span", "", "абонент не найден"));
            }
            if (callback.comment) td.appendChild(el("span", "note", callback.comment));
            return td;
          }
          function render() {
            if (!list) return;
            var elapsed = (Date.now() - fetchedAt) / 1000, overdue = 0, rows = document.createDocumentFragment();
            list.callbacks.forEach(function (callback) {
              var seconds = callback.age_seconds + elapsed, late = callback.overdue || seconds >= overdueAfter;
              if (late) overdue += 1;
              var tr = el("tr", late ? "callback overdue" : "callback");
              tr.dataset.callbackId = callback.callback_id;
              tr.dataset.ticketId = callback.ticket_id;
              tr.title = "Тикет " + callback.ticket_id;
              tr.appendChild(el("td", "phone", phone(callback.phone)));
              tr.appendChild(subscriberCell(callback));
              tr.appendChild(el("td", "", callback.address || "—"));
              tr.appendChild(el("td", "num", callback.missed_count));
              tr.appendChild(el("td", "num", callback.attempts));
              tr.appendChild(el("td", "num age", age(seconds)));
              rows.appendChild(tr);
            });
            document.getElementById("rows").replaceChildren(rows);
            document.getElementById("list").hidden = list.callbacks.length === 0;
            document.getElementById("empty").hidden = list.callbacks.length !== 0;
            var summary = document.getElementById("summary");
            summary.replaceChildren("Открыто: ", el("b", "", list.callbacks.length), ", просрочено: ", el("b", "", overdue));
            document.title = (list.callbacks.length ? "(" + list.callbacks.length + ") " : "") + "Необработанные перезвоны — Метрика";
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
