/**
 * GET /ui: the status page, one self-contained HTML document (inline CSS and script, no external
 * asset, no build step). It refreshes itself every REFRESH_MS from the serving agent's JSON
 * endpoints: /cluster, /patroni, /config, /history (and ?details: the failover records), /explain and /decisions?member=<name> for
 * each member (the serving agent fetches the other members' decisions, so the page needs no
 * cross-origin request).
 *
 * It shows the members (role, state, timeline, lag), whether a failover would happen right now
 * (from the data: a leader key present and its agent answering, the candidates /explain finds
 * eligible), each agent's recent decisions, and the history. History lines are Patroni's arrays
 * ([timeline, lsn, reason, timestamp, new leader]); an object line (a richer failover record) is
 * shown field by field, so the page tolerates both.
 *
 * Every value is put in the page as text (textContent), never as HTML: member names, reasons and
 * tags come from the DCS and must not inject markup. The script avoids backquotes so that it can
 * live in this TypeScript string.
 */

export const UI_REFRESH_MS = 2000;

export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keel status</title>
<style>
  :root { --bg:#f6f7f9; --card:#fff; --ink:#1c2430; --muted:#647084; --line:#dde2ea; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --lead:#0b57d0; }
  * { box-sizing: border-box; }
  body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:baseline; gap:16px; padding:14px 22px; background:#17202e; color:#fff; }
  header h1 { margin:0; font-size:18px; font-weight:600; }
  header .meta { color:#b8c2d3; font-size:13px; }
  header .refresh { margin-left:auto; font-size:12px; color:#b8c2d3; }
  main { padding:18px 22px; display:grid; gap:16px; grid-template-columns: 1fr; max-width:1300px; }
  section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; }
  h2 { margin:0 0 10px; font-size:15px; }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
  td.num { font-variant-numeric: tabular-nums; }
  .pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; }
  .role-leader, .role-standby_leader { background:#dbe7ff; color:var(--lead); }
  .role-replica, .role-sync_standby, .role-quorum_standby { background:#e9edf3; color:#394457; }
  .yes { color:var(--ok); font-weight:600; } .no { color:var(--muted); }
  #verdict { font-size:15px; }
  #verdict .answer { font-weight:700; margin-right:6px; }
  #verdict.ok .answer { color:var(--ok); } #verdict.warn .answer { color:var(--warn); } #verdict.bad .answer { color:var(--bad); }
  #verdict.ok { border-left:5px solid var(--ok); } #verdict.warn { border-left:5px solid var(--warn); } #verdict.bad { border-left:5px solid var(--bad); }
  #verdict ul { margin:6px 0 0; padding-left:20px; color:#394457; }
  .decisions { display:grid; gap:12px; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); }
  .member-decisions h3 { margin:0 0 6px; font-size:14px; }
  .member-decisions ol { margin:0; padding-left:18px; }
  .member-decisions li { margin:3px 0; }
  .when { color:var(--muted); font-size:12px; }
  .error { color:var(--bad); }
  .muted { color:var(--muted); }
  code { font-size:12px; }
</style>
</head>
<body>
<header>
  <h1>keel <span id="scope"></span></h1>
  <span class="meta">served by <span id="served-by">?</span></span>
  <span class="refresh" id="refreshed">loading…</span>
</header>
<main>
  <section id="verdict"><h2>Would a failover happen right now?</h2><div id="verdict-text" class="muted">loading…</div></section>
  <section>
    <h2>Members</h2>
    <table id="members">
      <thead><tr><th>Member</th><th>Host</th><th>Role</th><th>State</th><th>TL</th><th>Lag (MB)</th><th>Would take over</th><th>Notes</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Last decisions of each agent</h2>
    <div class="decisions" id="decisions"></div>
  </section>
  <section>
    <h2>Failover records</h2>
    <table id="records">
      <thead><tr><th>Key taken</th><th>Kind</th><th>From → to</th><th>TL</th><th>Possibly lost</th><th>Considered</th><th>Rejoin</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>History</h2>
    <table id="history">
      <thead><tr><th>TL</th><th>LSN</th><th>Reason</th><th>Timestamp</th><th>New leader</th><th>Details</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
var REFRESH_MS = ${UI_REFRESH_MS};
var DECISIONS_SHOWN = 8;

function el(tag, attrs, children) {
  var node = document.createElement(tag);
  if (attrs) for (var k in attrs) {
    if (k === "text") node.textContent = attrs[k];
    else if (k === "cls") node.className = attrs[k];
    else node.setAttribute(k, attrs[k]);
  }
  (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
  return node;
}

function getJson(path) {
  var controller = new AbortController();
  var timer = setTimeout(function () { controller.abort(); }, 8000);
  return fetch(path, { signal: controller.signal, cache: "no-store" }).then(function (r) {
    clearTimeout(timer);
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }, function (e) { clearTimeout(timer); throw e; });
}

function settle(promise) {
  return promise.then(function (value) { return { ok: true, value: value }; }, function (error) { return { ok: false, error: String(error && error.message || error) }; });
}

function fmtLsn(n) {
  if (typeof n !== "number") return String(n);
  return (Math.floor(n / 4294967296)).toString(16).toUpperCase() + "/" + (n % 4294967296).toString(16).toUpperCase();
}

function fmtLag(lag) {
  if (lag === undefined) return "";
  if (typeof lag !== "number") return String(lag);
  return String(Math.round(lag / 1048576));
}

function isLeaderRole(role) { return role === "leader" || role === "standby_leader"; }

function renderMembers(cluster, explain) {
  var tbody = document.querySelector("#members tbody");
  tbody.textContent = "";
  var verdicts = {};
  if (explain) explain.members.forEach(function (m) { verdicts[m.member] = m; });
  (cluster.members || []).forEach(function (m) {
    var notes = [];
    if (m.pending_restart) notes.push("pending restart");
    if (m.tags && Object.keys(m.tags).length) notes.push("tags " + JSON.stringify(m.tags));
    var v = verdicts[m.name];
    var take = v ? el("span", { cls: v.wouldTakeOver ? "yes" : "no", title: v.reason, text: (v.wouldTakeOver ? "yes" : "no") + " — " + v.reason }) : el("span", { cls: "muted", text: "?" });
    var host = m.host === undefined ? "" : String(m.host) + (m.port === undefined ? "" : ":" + m.port);
    tbody.appendChild(el("tr", { "data-member": m.name }, [
      el("td", { cls: "name", text: m.name }),
      el("td", { cls: "host", text: host }),
      el("td", { cls: "role" }, [el("span", { cls: "pill role-" + m.role, text: m.role })]),
      el("td", { cls: "state", text: String(m.state) }),
      el("td", { cls: "timeline num", text: m.timeline === undefined ? "" : String(m.timeline) }),
      el("td", { cls: "lag num", text: fmtLag(m.lag) }),
      el("td", { cls: "takeover" }, [take]),
      el("td", { cls: "notes muted", text: notes.join("; ") })
    ]));
  });
}

function renderVerdict(cluster, explain, patroni, config) {
  var box = document.getElementById("verdict");
  var text = document.getElementById("verdict-text");
  text.textContent = "";
  var members = cluster.members || [];
  var leader = members.filter(function (m) { return isLeaderRole(m.role); })[0];
  var ttl = (config && typeof config.ttl === "number") ? config.ttl : 30;
  var dcsAge = patroni && patroni.dcs_last_seen ? Math.max(0, Date.now() / 1000 - patroni.dcs_last_seen) : null;
  var candidates = explain ? explain.members.filter(function (m) { return m.wouldTakeOver; }) : [];
  var answer, detail, level;
  if (cluster.pause) {
    answer = "No."; level = "warn";
    detail = "Maintenance mode (paused): no automatic failover.";
  } else if (!leader) {
    answer = "Yes — under way."; level = "bad";
    detail = "No member holds the leader key.";
  } else if (explain && explain.leader_answers === false) {
    answer = "Likely."; level = "bad";
    detail = "The leader key is held by " + leader.name + " but its agent does not answer; the key expires within ttl (" + ttl + " s) unless renewed.";
  } else if (dcsAge !== null && dcsAge > ttl) {
    answer = "Unknown."; level = "warn";
    detail = "This agent last reached etcd " + Math.round(dcsAge) + " s ago (ttl " + ttl + " s).";
  } else {
    answer = "No."; level = explain && candidates.length === 0 ? "warn" : "ok";
    detail = leader.name + " holds a fresh leader key and its agent answers." + (level === "warn" ? " But no other member could take over if it were lost." : "");
  }
  box.className = level;
  text.className = "";
  text.appendChild(el("span", { cls: "answer", id: "verdict-answer", text: answer }));
  text.appendChild(el("span", { id: "verdict-detail", text: detail }));
  var list = el("ul", { id: "verdict-candidates" });
  if (explain) {
    var question = leader ? "If " + leader.name + " were lost now: " : "Now: ";
    list.appendChild(el("li", { text: question + (candidates.length ? candidates.map(function (c) { return c.member; }).join(", ") + " would take over" : "no member would take over") + "." }));
    explain.members.filter(function (m) { return !m.wouldTakeOver && !(leader && m.member === leader.name); }).forEach(function (m) {
      list.appendChild(el("li", { text: m.member + ": " + m.reason }));
    });
  } else {
    list.appendChild(el("li", { cls: "muted", text: "candidates unknown (GET /explain did not answer)" }));
  }
  text.appendChild(list);
}

function renderDecisions(results) {
  var box = document.getElementById("decisions");
  box.textContent = "";
  results.forEach(function (r) {
    var card = el("div", { cls: "member-decisions", "data-member": r.name }, [el("h3", { text: r.name })]);
    if (!r.ok) {
      card.appendChild(el("div", { cls: "error", text: "no answer: " + r.error }));
    } else {
      var ol = el("ol");
      (r.value.decisions || []).slice(0, DECISIONS_SHOWN).forEach(function (d) {
        var when = d.cycles > 1 ? d.first_at + " … " + d.last_at + " (" + d.cycles + " cycles)" : d.last_at;
        ol.appendChild(el("li", { "data-kind": d.kind }, [el("div", { cls: "why", text: d.why }), el("div", { cls: "when", text: when + " · " + d.kind })]));
      });
      if (!ol.childNodes.length) ol.appendChild(el("li", { cls: "muted", text: "no decision yet" }));
      card.appendChild(ol);
    }
    box.appendChild(card);
  });
}

function renderHistory(history) {
  var tbody = document.querySelector("#history tbody");
  tbody.textContent = "";
  var lines = Array.isArray(history) ? history.slice().reverse().slice(0, 15) : [];
  if (!lines.length) tbody.appendChild(el("tr", {}, [el("td", { colspan: "6", cls: "muted", text: "no failover or switchover yet" })]));
  lines.forEach(function (line) {
    var tl, lsn, reason, ts, leader, details = "";
    if (Array.isArray(line)) {
      tl = line[0]; lsn = line[1]; reason = line[2]; ts = line[3]; leader = line[4];
    } else if (line && typeof line === "object") {
      tl = line.timeline; lsn = line.lsn; reason = line.reason; ts = line.timestamp; leader = line.new_leader !== undefined ? line.new_leader : line.newLeader;
      var known = { timeline: 1, lsn: 1, reason: 1, timestamp: 1, new_leader: 1, newLeader: 1 };
      details = Object.keys(line).filter(function (k) { return !known[k]; }).map(function (k) {
        var v = line[k];
        return k + ": " + (typeof v === "object" ? JSON.stringify(v) : String(v));
      }).join("; ");
    } else {
      reason = String(line);
    }
    tbody.appendChild(el("tr", {}, [
      el("td", { cls: "num", text: tl === undefined ? "" : String(tl) }),
      el("td", { cls: "num", text: lsn === undefined ? "" : fmtLsn(lsn) }),
      el("td", { text: reason === undefined ? "" : String(reason) }),
      el("td", { text: ts === undefined || ts === null ? "" : String(ts) }),
      el("td", { text: leader === undefined || leader === null ? "" : String(leader) }),
      el("td", { cls: "muted", text: details })
    ]));
  });
}

function renderRecords(records) {
  var tbody = document.querySelector("#records tbody");
  tbody.textContent = "";
  var list = Array.isArray(records) ? records.slice().reverse().slice(0, 10) : [];
  if (!list.length) tbody.appendChild(el("tr", {}, [el("td", { colspan: "7", cls: "muted", text: "none recorded yet" })]));
  list.forEach(function (r) {
    var considered = (r.considered || []).map(function (m) { return m.name + (m.chosen ? " (chosen)" : ": " + m.reason); }).join("; ");
    var rejoin = r.rejoin ? r.rejoin.method + (r.rejoin.afterPromotionMs !== null ? ", " + (r.rejoin.afterPromotionMs / 1000).toFixed(1) + " s after" : "") : "not yet";
    tbody.appendChild(el("tr", {}, [
      el("td", { text: String(r.keyTakenAt || "") }),
      el("td", { text: String(r.kind || "") }),
      el("td", { text: (r.oldLeader || "?") + " → " + (r.newLeader || "?") }),
      el("td", { cls: "num", text: r.timeline === null || r.timeline === undefined ? "" : String(r.timeline) }),
      el("td", { cls: "num", text: r.bytesPossiblyLost === null || r.bytesPossiblyLost === undefined ? "unknown" : r.bytesPossiblyLost + " B" }),
      el("td", { cls: "muted", text: considered }),
      el("td", { text: rejoin })
    ]));
  });
}

var refreshes = 0;
function refresh() {
  Promise.all([settle(getJson("/cluster")), settle(getJson("/patroni")), settle(getJson("/config")), settle(getJson("/history")), settle(getJson("/explain")), settle(getJson("/history?details"))]).then(function (r) {
    var cluster = r[0], patroni = r[1], config = r[2], history = r[3], explain = r[4], records = r[5];
    var stamp = document.getElementById("refreshed");
    if (!cluster.ok) {
      stamp.textContent = "cannot read /cluster: " + cluster.error;
      stamp.className = "refresh error";
      return null;
    }
    if (patroni.ok) {
      document.getElementById("served-by").textContent = (patroni.value.keel && patroni.value.keel.name) || "?";
      document.getElementById("scope").textContent = "— " + ((patroni.value.patroni && patroni.value.patroni.scope) || "");
    }
    var ex = explain.ok ? explain.value : null;
    renderMembers(cluster.value, ex);
    renderVerdict(cluster.value, ex, patroni.ok ? patroni.value : null, config.ok ? config.value : null);
    renderHistory(history.ok ? history.value : []);
    renderRecords(records.ok ? records.value : []);
    var names = (cluster.value.members || []).map(function (m) { return m.name; });
    return Promise.all(names.map(function (name) {
      return settle(getJson("/decisions?member=" + encodeURIComponent(name))).then(function (d) { d.name = name; return d; });
    })).then(function (decisions) {
      renderDecisions(decisions);
      refreshes += 1;
      document.body.setAttribute("data-refreshes", String(refreshes));
      stamp.className = "refresh";
      stamp.textContent = "refreshed " + new Date().toLocaleTimeString() + " · every " + (REFRESH_MS / 1000) + " s";
    });
  }).catch(function (error) {
    document.getElementById("refreshed").textContent = "refresh failed: " + error;
  }).then(function () { setTimeout(refresh, REFRESH_MS); });
}
refresh();
</script>
</body>
</html>
`;
