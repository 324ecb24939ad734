// Behaviour of the knowledge-graph page (smolrag_lab/lab/graph_view.py inlines it after pyvis's
// drawGraph): a status line with the drawn counts, node search, and on click the node's description
// and source excerpts plus its strongest neighbours that are not drawn yet.
(function waitForNetwork() {
  if (typeof network === "undefined" || !network.body) { return setTimeout(waitForNetwork, 50); }
  var status = document.getElementById("smolrag-graph-status");
  var mark = function () {
    var drawn = network.body.nodeIndices.length;
    status.setAttribute("data-drawn-nodes", String(drawn));
    status.textContent = drawn + " nodes, " + network.body.edgeIndices.length + " edges drawn";
  };
  network.on("afterDrawing", mark);
  network.on("stabilized", mark);

  var search = document.getElementById("smolrag-node-search");
  var found = document.getElementById("smolrag-search-status");
  search.addEventListener("input", function () {
    var needle = search.value.trim().toLowerCase();
    if (!needle) { network.unselectAll(); found.textContent = ""; return; }
    var ids = nodes.getIds({ filter: function (n) {
      return String(n.label).toLowerCase().indexOf(needle) >= 0;
    } });
    network.selectNodes(ids);
    found.setAttribute("data-matches", String(ids.length));
    found.textContent = ids.length + (ids.length === 1 ? " match" : " matches");
    if (ids.length) { network.focus(ids[0], { scale: 1.0, animation: false }); }
  });

  var info = document.getElementById("smolrag-node-info");
  network.on("click", function (event) {
    if (!event.nodes.length) { return; }
    var id = event.nodes[0];
    info.textContent = nodes.get(id).title || "";
    var more = smolragExpansions[id];
    if (!more) { return; }
    more.nodes.forEach(function (n) { if (!nodes.get(n.id)) { nodes.add(n); } });
    more.edges.forEach(function (e) {
      var exists = edges.get({ filter: function (x) {
        return (x.from === e.from && x.to === e.to) || (x.from === e.to && x.to === e.from);
      } }).length;
      if (!exists) { edges.add(e); }
    });
    delete smolragExpansions[id];
    info.setAttribute("data-expanded", id);
  });
  network.redraw();
})();
