// The page's keyboard shortcut, its style, and a plain answer to a file that is not a recording. Run once when
// the page loads (the setup element's js_on_load).
(() => {
  if (!document.getElementById("interviewer-style")) {
    const style = document.createElement("style");
    style.id = "interviewer-style";
    style.textContent = props.page_css;
    document.head.appendChild(style);
  }
  if (window.interviewerPage) return;
  window.interviewerPage = true;

  // Alt+M starts or stops the hands-free microphone from anywhere on the page, as its button would.
  window.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.code !== "KeyM") return;
    const mic = document.getElementById("live-mic");
    const button = mic && [...mic.querySelectorAll("button.record-button, button.stop-button")]
      .find((b) => b.offsetParent !== null);
    if (!button) return;
    event.preventDefault();
    button.click();
  });

  // A file that is not audio, dropped on or chosen for the push-to-talk box, is stopped before Gradio's own
  // check (whose message names MIME types) and answered beside the box in words.
  const say = (text) => {
    const box = document.getElementById("push-mic");
    let note = document.getElementById("upload-note");
    if (!note && box) {
      note = document.createElement("p");
      note.id = "upload-note";
      note.setAttribute("role", "alert");
      box.after(note);
    }
    if (note) note.textContent = text;
  };
  const refuse = (event, files) => {
    if (!event.target.closest || !event.target.closest("#push-mic")) return;
    const list = [...(files || [])];
    const wrong = list.filter((f) => !(f.type || "").startsWith("audio/") && !/[.](wav|mp3|ogg|oga|flac|m4a|webm|opus|aac)$/i.test(f.name));
    if (!list.length) return;
    if (!wrong.length) { say(""); return; }
    event.stopPropagation();
    event.preventDefault();
    if (event.target.value !== undefined && event.type === "change") event.target.value = "";
    say(`${wrong[0].name} is not a recording. Upload a sound file (WAV, MP3, OGG or FLAC), or press Record and answer aloud.`);
  };
  document.addEventListener("change", (e) => refuse(e, e.target.files), true);
  document.addEventListener("drop", (e) => refuse(e, e.dataTransfer && e.dataTransfer.files), true);
})();
