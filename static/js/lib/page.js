// What every map page does first: read the configuration the server rendered into it, and
// tell the CSS how tall the top bar is (the map fills the rest of the window).

export function pageConfig(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : {};
}

export function fitBelowTopbar() {
  const topbar = document.querySelector(".topbar");
  if (topbar) document.documentElement.style.setProperty("--topbar-h", `${topbar.offsetHeight}px`);
}
