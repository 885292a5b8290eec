// Helpline web-site widget: a "Chat with us" button for any page.
//   <script src="https://helpline.example/widget.js" data-queue="Billing" async></script>
// Options (data-*): queue (queue id or name to preselect), label (button text), color.
// The chat opens in a small window on the Helpline origin, so it signs in and keeps its
// session like the portal does (no third-party cookies, no iframe).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__helplineWidget) return;
  window.__helplineWidget = true;
  var origin = new URL(script.src, window.location.href).origin;
  var queue = script.getAttribute("data-queue") || "";
  var label = script.getAttribute("data-label") || "Chat with us";
  var color = script.getAttribute("data-color") || "#3454d1";

  function open() {
    var url = origin + "/" + (queue ? "?queue=" + encodeURIComponent(queue) : "");
    var w = window.open(url, "helpline-chat", "width=440,height=700,noopener=no");
    if (!w) window.location.href = url; // pop-ups blocked: go there instead
    else w.focus();
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
      "svg{width:20px;height:20px}";
    var button = document.createElement("button");
    button.type = "button";
    button.setAttribute("aria-label", label + " (opens a chat window)");
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

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
