// sofrito serve: live reload and the error overlay (src/sofrito/cli/serve.py).
// The server injects this script into the HTML it serves; it is never written
// into an output file. It listens to the server's events:
//   "changed":  the output paths a run wrote or deleted; the tab reloads only
//               when its own page is among them.
//   "failures": the outputs whose render failed now (output null: the whole
//               run failed); the tab shows an overlay when its page is one of
//               them, and removes it when it no longer is.
(function () {
  "use strict";
  var script = document.currentScript;
  var servedAt = (script && script.getAttribute("data-sofrito-run")) || "0";

  // The output path of a URL path: "/" is "index.html", "/blog/" is "blog/index.html".
  function outputPath(pathname) {
    var path = decodeURIComponent(pathname).replace(/^\/+/, "");
    if (path === "" || path.charAt(path.length - 1) === "/") {
      path += "index.html";
    }
    return path;
  }

  var own = outputPath(location.pathname);
  var overlay = null;

  function line(tag, text, style) {
    var element = document.createElement(tag);
    element.textContent = text;
    element.setAttribute("style", style);
    return element;
  }

  function show(failures) {
    if (overlay === null) {
      overlay = document.createElement("div");
      overlay.id = "sofrito-overlay";
      overlay.setAttribute(
        "style",
        "position:fixed;inset:0;z-index:2147483647;overflow:auto;padding:2em;" +
          "background:rgba(20,20,20,0.94);color:#fff;font:14px/1.5 ui-monospace,monospace;"
      );
      document.documentElement.appendChild(overlay);
    }
    overlay.textContent = "";
    overlay.appendChild(
      line("div", "sofrito: this page failed to build", "color:#ff6b6b;font-size:1.3em;margin-bottom:1em")
    );
    failures.forEach(function (failure) {
      var where = [];
      if (failure.source) where.push("source " + failure.source);
      if (failure.where) where.push("at " + failure.where);
      var item = line("div", failure.message, "white-space:pre-wrap;margin-bottom:0.3em");
      item.className = "sofrito-failure";
      overlay.appendChild(item);
      if (where.length) {
        var place = line("div", where.join(", "), "color:#8ec5ff;margin-bottom:1em");
        place.className = "sofrito-where";
        overlay.appendChild(place);
      }
    });
    overlay.appendChild(line("div", "Fix the file: this clears by itself.", "color:#aaa"));
  }

  function hide() {
    if (overlay !== null) {
      overlay.remove();
      overlay = null;
    }
  }

  var events = new EventSource("/__sofrito/events?since=" + encodeURIComponent(servedAt));
  events.addEventListener("changed", function (event) {
    if (JSON.parse(event.data).indexOf(own) >= 0) {
      events.close();
      location.reload();
    }
  });
  events.addEventListener("failures", function (event) {
    var mine = JSON.parse(event.data).filter(function (failure) {
      return failure.output === null || failure.output === own;
    });
    if (mine.length) {
      show(mine);
    } else {
      hide();
    }
  });
})();
