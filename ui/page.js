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

  // Barge-in. While the hands-free microphone is on and the interviewer's voice plays, sustained speech on the
  // microphone (louder than BARGE.level for BARGE.sustain_ms: a click or a cough is shorter) pauses the voice
  // at once and tells the server (the hidden #barge-in button), which then stops speaking and hears the answer
  // from its first word. The meter asks the browser for its echo cancellation, so the interviewer's own voice
  // from the speakers is not taken for the candidate's. window.interviewerBarge keeps the last one's times.
  const BARGE = { level: 0.02, sustain_ms: 240, every_ms: 20 };
  const player = () => document.querySelector("#speaker audio");
  const recording = () => {
    const mic = document.getElementById("live-mic");
    return !!mic && [...mic.querySelectorAll("button.stop-button")].some((b) => b.offsetParent !== null);
  };
  let meter = null;
  window.interviewerHushed = false;
  const startMeter = async () => {
    meter = { stop: () => {} };
    try {
      const stream = await navigator.mediaDevices.getUserMedia(
        { audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: false } });
      const context = new AudioContext();
      const analyser = context.createAnalyser();
      analyser.fftSize = 512;
      context.createMediaStreamSource(stream).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      let onset = null;
      const timer = setInterval(() => {
        const audio = player();
        if (!audio || audio.paused || window.interviewerHushed) { onset = null; return; }
        analyser.getFloatTimeDomainData(samples);
        const rms = Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
        const now = performance.now();
        if (rms < BARGE.level) { onset = null; return; }
        onset = onset ?? now;
        if (now - onset < BARGE.sustain_ms) return;
        audio.pause();
        window.interviewerHushed = true;
        window.interviewerBarge = { onset, paused: performance.now() };
        const button = document.getElementById("barge-in");
        if (button) button.click();
      }, BARGE.every_ms);
      meter = { stop: () => { clearInterval(timer); stream.getTracks().forEach((t) => t.stop()); context.close(); } };
    } catch (error) {
      console.warn("barge-in is off: the microphone could not be metered", error);
    }
  };
  setInterval(() => {
    if (recording() && !meter) startMeter();
    else if (!recording() && meter) { meter.stop(); meter = null; }
  }, 250);
  // Hushed, the voice stays paused (a streamed piece already sent would play it again) until the next reply
  // starts a new stream in the player.
  document.addEventListener("play", (e) => {
    if (window.interviewerHushed && e.target.closest && e.target.closest("#speaker")) e.target.pause();
  }, true);
  document.addEventListener("emptied", (e) => {
    if (e.target.closest && e.target.closest("#speaker")) window.interviewerHushed = false;
  }, true);

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
