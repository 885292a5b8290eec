// Helpline web-site widget: a "Chat with us" button for any page.
//   <script src="https://helpline.example/widget.js" data-queue="Billing" async></script>
// Options (data-*): queue (queue id or name to preselect), label (button text), lang (the
// language of the button and the panel; default: the page's <html lang>), color,
// notifications ("on": while the visitor's tab is hidden, an agent's reply also shows as this
// site's desktop notification, if the visitor already allowed this site's notifications:
// browsers refuse them to the cross-site panel, and this script never asks); and for
// a visitor the site has signed in: user-id, user-hash (hex HMAC-SHA256 of the id with
// HELPLINE_WIDGET_SECRET, computed by the site's back end), user-name, user-email.
// On a site listed in HELPLINE_WIDGET_ORIGINS the button opens a chat panel: an iframe of
// <helpline>/widget/chat, which signs in as a guest and talks to Helpline by bearer token (no
// third-party cookies needed). The token stays inside that frame: this script never gets it. On any other site it says so in the browser console (for the
// site owner) and opens the portal in a small window instead.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__helplineWidget) return;
  window.__helplineWidget = true;
  var origin = new URL(script.src, window.location.href).origin;
  var queue = script.getAttribute("data-queue") || "";
  // The button's words: the site's own (data-label), or Helpline's in the visitor's language
  // (asked with /widget/allowed; data-lang, else the page's <html lang>, else the browser's).
  var ownLabel = script.getAttribute("data-label");
  var lang = script.getAttribute("data-lang") || document.documentElement.lang || "";
  var label = ownLabel || "Chat with us";
  var popupLabel = ownLabel || "Chat with us (opens a chat window)";
  var color = script.getAttribute("data-color") || "#3454d1";
  var notifications = script.getAttribute("data-notifications") === "on";
  var lastCount = 0;
  // The site's signed-in visitor, handed to the panel in the URL's fragment: browsers never
  // send a fragment to a server, so it stays out of request lines and logs.
  var identity = "";
  var userId = script.getAttribute("data-user-id");
  var userHash = script.getAttribute("data-user-hash");
  if (userId && userHash) {
    identity = "#uid=" + encodeURIComponent(userId) + "&hash=" + encodeURIComponent(userHash);
    var userName = script.getAttribute("data-user-name");
    var userEmail = script.getAttribute("data-user-email");
    if (userName) identity += "&name=" + encodeURIComponent(userName);
    if (userEmail) identity += "&email=" + encodeURIComponent(userEmail);
  }

  // Older versions kept the panel's session (its bearer token) here, in the host's storage,
  // where any script of the site could read it: remove what they left.
  try {
    sessionStorage.removeItem("helpline.widget.state");
  } catch (e) {
    /* storage unavailable */
  }
  var panel = null;
  var button = null;
  var embedded = false;
  var baseTitle = null; // the host page's title while the panel counts unseen replies

  function popup() {
    var params = [];
    if (queue) params.push("queue=" + encodeURIComponent(queue));
    if (lang) params.push("lang=" + encodeURIComponent(lang));
    var url = origin + "/" + (params.length ? "?" + params.join("&") : "");
    var w = window.open(url, "helpline-chat", "width=440,height=700,noopener=no");
    if (!w) window.location.href = url; // pop-ups blocked: go there instead
    else w.focus();
  }

  // The site's own notification for a reply the panel counted (only the alert's title comes
  // from the panel, never the message). Clicking it shows the page with the panel open.
  function notify(title) {
    if (!notifications || !("Notification" in window) || Notification.permission !== "granted") return;
    try {
      var n = new Notification(title, { tag: "helpline-widget" });
      n.onclick = function () {
        window.focus();
        n.close();
        if (panel && panel.hidden) setOpen(true);
      };
    } catch (err) {
      /* some browsers only allow notifications from a service worker */
    }
  }

  function setOpen(show) {
    if (!panel) return;
    panel.hidden = !show;
    button.setAttribute("aria-expanded", show ? "true" : "false");
    // A closed panel shows nothing: the frame must not tell the agent its messages were seen.
    var frame = panel.querySelector("iframe");
    if (frame.contentWindow) frame.contentWindow.postMessage({ type: "helpline:shown", shown: show }, origin);
    if (show) panel.querySelector("iframe").focus();
    else button.focus();
  }

  function open() {
    if (!embedded) return popup();
    if (!panel) {
      panel = document.createElement("div");
      panel.className = "panel";
      panel.id = "helpline-panel";
      var frame = document.createElement("iframe");
      // The panel keeps its session in its own storage; this page never sees it.
      frame.src =
        origin + "/widget/chat?host=" + encodeURIComponent(window.location.origin) +
        (queue ? "&queue=" + encodeURIComponent(queue) : "") +
        (lang ? "&lang=" + encodeURIComponent(lang) : "") +
        // The page the visitor is on, and where they came from, for the agent (context).
        "&page=" + encodeURIComponent(window.location.href.slice(0, 2000)) +
        (document.referrer ? "&ref=" + encodeURIComponent(document.referrer.slice(0, 2000)) : "") +
        identity;
      frame.title = label;
      frame.setAttribute("data-helpline-frame", "");
      panel.appendChild(frame);
      button.parentNode.appendChild(panel);
      button.setAttribute("aria-controls", "helpline-panel");
      window.addEventListener("message", function (e) {
        if (e.origin !== origin || e.source !== frame.contentWindow || !e.data) return;
        if (e.data.type === "helpline:close") setOpen(false);
        // Replies while the visitor's tab was hidden: "(n) " before the page's own title.
        if (e.data.type === "helpline:unseen") {
          var count = Number(e.data.count) || 0;
          if (baseTitle === null) baseTitle = document.title;
          document.title = count > 0 ? "(" + count + ") " + baseTitle : baseTitle;
          if (count === 0) baseTitle = null;
          if (count > lastCount) notify(String(e.data.title || label).slice(0, 200));
          lastCount = count;
        }
      });
      setOpen(true);
      return;
    }
    setOpen(panel.hidden);
  }

  function check() {
    // Ask Helpline whether this site may embed the chat panel.
    var url = origin + "/widget/allowed?origin=" + encodeURIComponent(window.location.origin) +
      (lang ? "&lang=" + encodeURIComponent(lang) : "");
    return fetch(url, { credentials: "omit" })
      .then(function (res) { return res.ok ? res.json() : { allowed: false }; })
      .then(function (data) {
        embedded = Boolean(data && data.allowed);
        if (!ownLabel && data && data.label) label = data.label;
        if (!ownLabel && data && data.popup_label) popupLabel = data.popup_label;
        if (!embedded && window.console)
          console.warn(
            "Helpline widget: " + window.location.origin + " is not an allowed origin, so the chat opens in a " +
              "new window instead of on this page. Ask the Helpline administrator to add it to HELPLINE_WIDGET_ORIGINS.",
          );
      })
      .catch(function () { embedded = false; });
  }

  function mount() {
    var host = document.createElement("div");
    host.setAttribute("data-helpline-widget", "");
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var style = document.createElement("style");
    style.textContent =
      ":host{all:initial}" +
      "button{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;" +
      "padding:12px 18px;border:0;border-radius:999px;background:" + color + ";color:#fff;" +
      "font:600 15px/1.2 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;cursor:pointer;" +
      "box-shadow:0 8px 24px rgba(20,30,60,.25)}" +
      "button:focus-visible{outline:3px solid #fff;box-shadow:0 0 0 6px " + color + "}" +
      "svg{width:20px;height:20px}" +
      ".panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:min(400px,calc(100vw - 24px));" +
      "height:min(620px,calc(100vh - 108px));border-radius:16px;overflow:hidden;background:#fff;" +
      "box-shadow:0 16px 48px rgba(20,30,60,.3)}" +
      ".panel[hidden]{display:none}" +
      "iframe{display:block;width:100%;height:100%;border:0}" +
      "@media (max-width:480px){.panel{right:12px;bottom:76px;height:calc(100vh - 96px)}}";
    button = document.createElement("button");
    button.type = "button";
    button.setAttribute("aria-label", label);
    button.setAttribute("data-testid", "widget-launcher");
    var svgNS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(svgNS, "path");
    path.setAttribute("d", "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z");
    svg.appendChild(path);
    button.appendChild(svg);
    button.appendChild(document.createTextNode(label));
    button.addEventListener("click", open);
    root.appendChild(style);
    root.appendChild(button);
    document.body.appendChild(host);
  }

  var ready = check();
  function start() {
    ready.then(function () {
      mount();
      if (embedded) button.setAttribute("aria-expanded", "false");
      else button.setAttribute("aria-label", popupLabel);
    });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
