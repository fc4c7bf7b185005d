/* The header's segment filter: applying it reloads the page with ?where= (the page's other
 * parameters kept); clearing it drops ?where=. The page's script passes it to the API. */
(function () {
  "use strict";
  const form = document.getElementById("segment-form");
  if (!form) return;
  function go(where) {
    const query = NS.params();
    query.delete("token");  // the session cookie carries it from here on
    if (where) query.set("where", where); else query.delete("where");
    const text = query.toString();
    window.location.assign(window.location.pathname + (text ? "?" + text : ""));
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); go(form.elements.where.value.trim()); });
  const clear = document.getElementById("segment-clear");
  if (clear) clear.addEventListener("click", () => go(""));
})();
