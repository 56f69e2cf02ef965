// The page's keyboard shortcut and style. Run once when the page loads (the setup element's js_on_load).
// Alt+M starts or stops the hands-free microphone from anywhere on the page, as its button would.
(() => {
  if (!document.getElementById("interviewer-style")) {
    const style = document.createElement("style");
    style.id = "interviewer-style";
    style.textContent = props.page_css;
    document.head.appendChild(style);
  }
  if (window.interviewerKeys) return;
  window.interviewerKeys = true;
  window.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.code !== "KeyM") return;
    const mic = document.getElementById("live-mic");
    const button = mic && [...mic.querySelectorAll("button")].find((b) =>
      b.offsetParent !== null && /record|stop/i.test(`${b.getAttribute("aria-label") || ""} ${b.className} ${b.textContent}`));
    if (!button) return;
    event.preventDefault();
    button.click();
  });
})();
