/* crmkit pipeline board: drag a card onto another column to move it.
 *
 * Progressive enhancement only: every movable card already has a form (a stage list and a
 * Move button) that works without JavaScript.  Dropping a card on a column chooses that
 * column's stage in the card's form and sends the form, so a drag goes through exactly the
 * same server-side rules (an illegal move comes back with the rule's message and the card
 * where it was).
 */
(function () {
  "use strict";
  var board = document.querySelector("[data-board]");
  if (!board) { return; }
  var dragged = null;

  function columnOf(element) { return element.closest("[data-stage]"); }

  function clearTargets() {
    board.querySelectorAll(".drop-target").forEach(function (column) {
      column.classList.remove("drop-target");
    });
  }

  board.querySelectorAll("[data-opportunity][data-movable]").forEach(function (card) {
    card.draggable = true;
    card.addEventListener("dragstart", function (event) {
      dragged = card;
      card.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.getAttribute("data-opportunity"));
    });
    card.addEventListener("dragend", function () {
      card.classList.remove("dragging");
      dragged = null;
      clearTargets();
    });
  });

  board.querySelectorAll("[data-stage]").forEach(function (column) {
    column.addEventListener("dragover", function (event) {
      if (!dragged || columnOf(dragged) === column) { return; }
      event.preventDefault();  // allows the drop
      event.dataTransfer.dropEffect = "move";
      column.classList.add("drop-target");
    });
    column.addEventListener("dragleave", function (event) {
      if (!column.contains(event.relatedTarget)) { column.classList.remove("drop-target"); }
    });
    column.addEventListener("drop", function (event) {
      event.preventDefault();
      clearTargets();
      if (!dragged || columnOf(dragged) === column) { return; }
      var form = dragged.querySelector("form[data-move]");
      form.elements.stage.value = column.getAttribute("data-stage");
      dragged.classList.add("moving");
      form.submit();
    });
  });
})();
