// Starts Swagger UI on /api/docs; the page passes the document's URL and settings as data attributes,
// so no inline script is needed (the page's Content-Security-Policy allows none).
(function () {
  var root = document.getElementById("swagger-ui");
  var config = JSON.parse(root.dataset.config);
  config.url = root.dataset.specUrl;
  config.dom_id = "#swagger-ui";
  window.ui = window.SwaggerUIBundle(config);
})();
