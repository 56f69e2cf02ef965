"""A real browser: Debian's Chromium, headless, hears a WAV file as its microphone and holds a whole
one-question interview by voice: the spoken question, the answer heard hands-free (with a thinking pause in
the middle of a sentence, and both cores hogged while it is spoken), its transcript and score, the next spoken
line, and (after a follow-up and a second answer, when the grade calls for one) the close and the report.
"""

from __future__ import annotations

import re
import shutil
import wave

import numpy as np
import pytest
from servers import free_port, hogged

from interviewer.audio import chunks_to_16k
from interviewer.session import SessionOptions
from interviewer.settings import REPO_ROOT

pytestmark = pytest.mark.real
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ANSWER = "A reward model is trained on human preference comparisons, and the policy is then optimised with PPO."
# The same answer with the candidate stopping to think for two seconds in the middle of a sentence.
BEFORE_PAUSE, AFTER_PAUSE = "A reward model is trained on human preference comparisons, and the policy is", \
    "then optimised with PPO."
# With Piper's own silence at both ends about 2.1 s: longer than the 1.8 s pause that ends an answer without the turn
# model, and 1.1 s inside the 3.2 s thinking-pause limit, since the fake microphone adds silence of its own when the
# CPU hog starves Chromium (a 2.0 s pause was once heard as 3.28 s and the answer cut there)
THINKING_PAUSE_S = 1.6
FOLLOW_UP_ANSWER = ("A KL penalty keeps the policy close to the supervised model, so it cannot exploit the "
                    "reward model with strange text.")


@pytest.fixture(scope="module")
def page(services, tmp_path_factory):
    from interviewer.ui.app import app_kwargs, build_app

    demo = build_app(services, SessionOptions(topics=("rlhf",), questions=1, answer_seconds=120))
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                app_kwargs=app_kwargs())
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def microphone(services, tmp_path_factory):
    """A WAV the browser plays as its microphone: silence, the answer with a thinking pause in it, a long pause,
    a second answer."""
    before, after, second = (chunks_to_16k(services.tts.synthesize(text))
                             for text in (BEFORE_PAUSE, AFTER_PAUSE, FOLLOW_UP_ANSWER))
    first = np.concatenate([before, np.zeros(int(16000 * THINKING_PAUSE_S)), after])
    # Leading silence longer than the spoken greeting and question, and between the answers longer than the
    # reply: the app ignores the microphone while it speaks, and the fake device starts playing this file the
    # moment recording starts.
    audio = np.concatenate([np.zeros(16000 * 25), first, np.zeros(16000 * 35), second, np.zeros(16000 * 5)])
    path = tmp_path_factory.mktemp("mic") / "answer.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


def chromium(profile, *flags: str):
    """Debian's Chromium, headless, offline, with a fake microphone (a beep unless a flag gives it a file)."""
    if not (CHROMIUM and DRIVER):
        pytest.fail("Chromium and chromedriver are needed: `make test` installs them (apt-get install chromium "
                    "chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--hide-scrollbars",
                 "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}", *flags):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


@pytest.fixture
def browser(microphone, tmp_path):
    driver = chromium(tmp_path / "profile", f"--use-file-for-fake-audio-capture={microphone}")
    yield driver
    driver.quit()


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _chat(driver) -> str:
    return driver.find_element("id", "chat").text


def _playing(driver) -> bool:
    """Whether the interviewer's player is playing audio it was sent (autoplay, nobody pressed play)."""
    return driver.execute_script(
        "const a = document.querySelector('#speaker audio'); return !!a && !a.paused && a.currentTime > 0.2;")


def test_a_whole_interview_by_voice_in_a_real_browser(page, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page)
    wait = WebDriverWait(browser, 120)
    wait.until(lambda d: d.find_elements("id", "start"))
    browser.find_element("id", "start").click()
    wait.until(lambda d: "Question 1 of 1" in _chat(d))
    wait.until(_playing)  # the greeting and question arrive as streamed audio and play by themselves
    record = browser.find_element("css selector", "#live-mic button[aria-label*='ecord'], #live-mic .record-button")
    with hogged():  # both cores busy while the first answer is spoken and heard: it is only later, not lost
        record.click()
        wait.until(lambda d: "words/min" in _chat(d))  # the answer was heard, hands-free, and transcribed
    lines = [line for line in _chat(browser).lower().splitlines() if line.strip()]
    heard = lines[next(i for i, line in enumerate(lines) if "words/min" in line) - 1]  # the transcript
    said = set(_words(ANSWER.replace("optimised", "optimized")))
    assert len(said & set(_words(heard))) >= 0.8 * len(said), heard  # all of it, the end too
    # one answer across the thinking pause: the turn did not end when the candidate stopped mid-sentence
    assert {"comparisons", "ppo"} <= set(_words(heard)), heard
    wait.until(lambda d: "Score" in _chat(d))
    wait.until(lambda d: "?" in _chat(d).split("Score")[-1] or "overall score" in _chat(d).lower())
    wait.until(_playing)  # and the reply is spoken
    if "overall score" not in _chat(browser).lower():  # a follow-up was asked: the second answer replies
        wait.until(lambda d: _chat(d).count("words/min") == 2)  # the second answer was heard too
    wait.until(lambda d: "overall score" in _chat(d).lower())
    wait.until(lambda d: "Interview report" in d.find_element("tag name", "body").text)


@pytest.fixture
def barging(services, tmp_path):
    """A browser whose microphone speaks 12 s after the page opens it (it does so on loading): while the greeting
    and the question are still being spoken."""
    answer = chunks_to_16k(services.tts.synthesize(ANSWER))
    audio = np.concatenate([np.zeros(16000 * 12), answer, np.zeros(16000 * 40)])
    path = tmp_path / "barge.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
    driver = chromium(tmp_path / "profile", f"--use-file-for-fake-audio-capture={path}")
    yield driver
    driver.quit()


def test_speaking_over_the_interviewer_stops_it_and_is_heard_from_the_first_word(page, barging):
    """Barge-in: the candidate starts answering while the question is still spoken. The page pauses the voice
    within 300 ms of sustained speech, the server speaks no more of it, the whole answer is heard (its first
    words were said over the voice), and the reply that follows is spoken again."""
    import time

    from selenium.webdriver.support.ui import WebDriverWait

    barging.get(page)
    wait = WebDriverWait(barging, 120)
    wait.until(lambda d: d.find_elements("id", "start"))
    barging.find_element("id", "start").click()
    wait.until(_playing)
    barging.find_element("css selector", "#live-mic button[aria-label*='ecord'], #live-mic .record-button").click()
    barge = wait.until(lambda d: d.execute_script("return window.interviewerBarge || null"))
    stopped_ms = barge["paused"] - barge["onset"]  # from sustained speech's first loud frame to the pause
    print(f"\nbarge-in: the voice paused {stopped_ms:.0f} ms after the candidate's first loud frame")
    assert 0 <= stopped_ms <= 300
    for _ in range(4):  # and the voice stays quiet while the candidate speaks
        assert not _playing(barging)
        time.sleep(0.5)
    wait.until(lambda d: "words/min" in _chat(d))
    lines = [line for line in _chat(barging).lower().splitlines() if line.strip()]
    heard = lines[next(i for i, line in enumerate(lines) if "words/min" in line) - 1]
    said = _words(ANSWER.replace("optimised", "optimized"))
    assert {"reward", "model", "trained"} <= set(_words(heard)), heard  # its first words, said over the voice
    assert len(set(said) & set(_words(heard))) >= 0.8 * len(set(said)), heard
    wait.until(lambda d: "Score" in _chat(d))
    wait.until(_playing)  # the reply is spoken: the hush lasted the candidate's turn only


def test_a_typed_answer_is_submitted_with_enter(page, browser):
    """Enter submits the typed answer: a candidate once lost a minute finding out that Enter only added a
    line."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page)
    wait = WebDriverWait(browser, 120)
    wait.until(lambda d: d.find_elements("id", "start"))
    browser.find_element("id", "start").click()
    wait.until(lambda d: "Question 1 of 1" in _chat(d))
    box = browser.find_element("css selector", "#answer textarea")
    # typed while the greeting is still being spoken: the lines that follow must not wipe it
    box.send_keys("Humans compare pairs of replies and a reward model learns from their choices.")
    wait.until(_playing)
    wait.until(lambda d: box.get_attribute("value").endswith("choices."))
    box.send_keys(Keys.ENTER)
    wait.until(lambda d: "Score" in _chat(d))
    assert "reward model learns from their choices" in _chat(browser)
    assert box.get_attribute("value") == ""  # the box is cleared for the next answer


# --- the page by keyboard alone, at desktop and phone width, with screenshots for the README -----------------

SHOTS = REPO_ROOT / "docs" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "phone": (400, 800)}
LABELS = {"covered", "partly", "missed", "contradicted"}
WEAK = "Humans rank some replies, and then it is about rewards."


@pytest.fixture(scope="module")
def typed_page(services):
    from interviewer.ui.app import app_kwargs, build_app

    demo = build_app(services, SessionOptions(topics=("rlhf",), questions=1, answer_seconds=300, level="mid"))
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                app_kwargs=app_kwargs())
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(params=list(WIDTHS))
def sized(request, tmp_path):
    width, height = WIDTHS[request.param]
    driver = chromium(tmp_path / "profile")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    yield request.param, driver
    driver.quit()


def _shot(driver, name: str, top: str = "") -> None:
    """A screenshot for the README, with the element `top` (a selector) at the top of the screen, kept small: 64
    colours are plenty for a page of text."""
    from PIL import Image

    if top:
        driver.execute_script("document.querySelector(arguments[0]).scrollIntoView({block: 'start'})", top)
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)


def _focus(driver) -> str:
    """The id of the control that has the keyboard focus (the nearest element with an id around it)."""
    return driver.execute_script("const e = document.activeElement; const c = e && e.closest('[id]');"
                                 "return c ? c.id : '';")


def _tab_to(driver, target: str, *, back: bool = False, most: int = 60) -> list[str]:
    """Press Tab (Shift+Tab when `back`) until the focus is inside the element with id `target`; the ids
    passed on the way, in order."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    seen: list[str] = []
    for _ in range(most):
        chain = ActionChains(driver)
        if back:
            chain.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        else:
            chain.send_keys(Keys.TAB).perform()
        here = _focus(driver)
        if not seen or seen[-1] != here:
            seen.append(here)
        if here == target:
            return seen
    raise AssertionError(f"Tab never reached #{target}; it went through {seen}")


def _type(driver, text: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(driver).send_keys(text).send_keys(Keys.ENTER).perform()


def _text_of(driver, element_id: str) -> str:
    return "".join(_snapshot(driver, f"#{element_id}", "e => e.innerText"))


def _cut_labels(driver) -> list[str]:
    """The texts of visible boxes that clip what they hold (overflow hidden, scrolled or ellipsised) and hold
    more than fits: a label, a button or a control cut off at this width."""
    return driver.execute_script("""
        const cut = [];
        for (const e of document.querySelectorAll('#settings *, .block, label, button, [data-testid="block-info"]')) {
          const r = e.getBoundingClientRect(), style = getComputedStyle(e);
          if (!r.width || !e.textContent.trim() || e.closest('[aria-hidden="true"]')) continue;
          const clips = style.overflowX !== 'visible' || style.textOverflow === 'ellipsis';
          if (clips && e.scrollWidth > e.clientWidth + 1) cut.push(e.textContent.trim().slice(0, 60));
        }
        return cut;""")


def _unnamed_controls(driver) -> list[str]:
    """Visible controls a screen reader would announce without a name (hidden copies Gradio keeps to measure its
    tabs are aria-hidden, so no reader meets them)."""
    found = driver.find_elements("css selector", "input:not([type=hidden]), textarea, button, select")
    return [c.get_attribute("outerHTML")[:120] for c in found if c.is_displayed() and not c.accessible_name.strip()
            and not driver.execute_script("return !!arguments[0].closest('[aria-hidden=true]')", c)]


def _rect(driver, selector: str) -> dict:
    return driver.execute_script("const r = document.querySelector(arguments[0]).getBoundingClientRect();"
                                 "return {top: r.top, bottom: r.bottom, right: r.right};", selector)


def _snapshot(driver, selector: str, read: str) -> list:
    """`read` (a JavaScript function of an element) applied to every element `selector` finds, in one step: the
    panel is redrawn every second, so an element held across two calls may be gone."""
    return driver.execute_script(f"return [...document.querySelectorAll(arguments[0])].map({read})", selector)


def _question_on_screen(driver) -> str:
    return "".join(_snapshot(driver, "#progress .asked", "e => e.innerText"))


def test_a_whole_typed_interview_by_keyboard_alone(typed_page, sized, services):
    """Start, answer, read the grade and the model answer, finish, open the printable report, and start the
    microphone by its shortcut, with the keyboard only; at phone width the question, the answer box and the
    last score fit on one screen and no label is cut. Screenshots of each stage go to docs/screenshots."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    name, driver = sized
    driver.get(typed_page)
    wait = WebDriverWait(driver, 180)
    wait.until(lambda d: d.find_elements("id", "start"))
    assert not _cut_labels(driver) and not _unnamed_controls(driver)
    _shot(driver, f"{name}-1-start")
    order = _tab_to(driver, "voice")
    assert [i for i in order if i in ("topic", "level", "questions", "seconds", "voice")] == \
        ["topic", "level", "questions", "seconds", "voice"]  # the settings in reading order
    ActionChains(driver).send_keys(Keys.SPACE).perform()  # typed: the questions are not spoken
    _tab_to(driver, "start")
    ActionChains(driver).send_keys(Keys.ENTER).perform()

    # the question shows first; its clock starts with the page's next output, once the question is out
    wait.until(lambda d: "Question 1 of 1" in _text_of(d, "progress"))
    wait.until(lambda d: "left for this answer" in _text_of(d, "progress"))
    assert "Level: mid" in _text_of(driver, "progress")
    name_of_bar, left = _snapshot(driver, "#progress [role=progressbar]",
                                  "e => [e.getAttribute('aria-label'), +e.getAttribute('aria-valuenow')]")[0]
    assert name_of_bar == "Time left for this answer" and 0 < left <= 300
    assert _question_on_screen(driver) in _text_of(driver, "chat")
    assert _tab_to(driver, "answer")[-1] == "answer"  # from Start, Tab reaches the answer box
    _shot(driver, f"{name}-2-question", "#progress")

    _type(driver, WEAK)
    wait.until(lambda d: d.find_elements("css selector", "#chat .grade-state"))
    wait.until(lambda d: not d.find_elements("css selector", "#chat .grade-state.instant"))  # checked, either way
    [state] = _snapshot(driver, "#chat .grade-state", "e => e.textContent")
    assert state in ("Verified grade", "Instant grade")  # the instant one then says why it stands
    assert "Last answer:" in _text_of(driver, "progress")
    if name == "phone":
        _one_screen(driver)
    _shot(driver, f"{name}-3-feedback", "#progress")
    draft = "A draft typed while the reply is written"
    ActionChains(driver).send_keys(draft).perform()  # the reply's later outputs must not wipe it
    # the follow-up's prompt is open (or, if the weak answer left nothing worth a follow-up, the interview is over)
    wait.until(lambda d: "left for this answer" in _text_of(d, "progress") or "Interview finished" in _text_of(
        d, "progress"))
    assert driver.find_element("css selector", "#answer textarea").get_attribute("value") == draft
    for _ in draft:
        ActionChains(driver).send_keys(Keys.BACKSPACE).perform()
    if "Interview finished" not in _text_of(driver, "progress"):  # a follow-up asks for a point not made: the
        chat = _text_of(driver, "chat")  # grade above it lists no such point, nor the tip that names one
        assert "listed once this question is over" in chat and "Tip:" not in chat

    for _ in range(4):  # a follow-up may come; the model answer of whatever is asked makes a strong answer
        if "Interview finished" in _text_of(driver, "progress"):
            break
        asked = _question_on_screen(driver)
        question = next((q for q in services.bank.questions if q.question in asked), None)
        before = len(driver.find_elements("css selector", "#chat .grade-state"))
        _type(driver, question.answer if question else "A KL penalty keeps the policy near the reference model.")
        wait.until(lambda d, n=before: len(d.find_elements("css selector", "#chat .grade-state")) > n)
        wait.until(lambda d, asked=asked: asked not in _question_on_screen_or_done(d))
    wait.until(lambda d: "Interview finished" in _text_of(d, "progress"))
    wait.until(lambda d: "Interview report" in _text_of(d, "report"))
    points = _snapshot(driver, "#chat .point", "e => [e.textContent, getComputedStyle(e).backgroundColor]")
    assert points and {word for word, _ in points} <= LABELS  # the question over, every point is listed
    colours = dict(points)
    assert len(set(colours.values())) == len(colours)  # each label its own colour, beside its word
    assert "Tip:" in _text_of(driver, "chat")

    _back_to_summary(driver)  # the model answers, folded in the chat, open from the keyboard
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    assert driver.execute_script("return document.activeElement.parentElement.open") is True

    _tab_to(driver, "open-report")
    _shot(driver, f"{name}-4-report", "#report")
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait.until(lambda d: len(d.window_handles) == 2)
    main = driver.current_window_handle
    driver.switch_to.window(next(h for h in driver.window_handles if h != main))
    wait.until(lambda d: d.title.startswith("Interview report"))
    printable = driver.find_element("tag name", "body").text
    assert "Overall score" in printable and "Model answer:" in printable and WEAK in printable
    if name == "desktop":  # the printable page opens in a window of its own, at the browser's own size
        _shot(driver, "printable-report")
    driver.close()
    driver.switch_to.window(main)

    for recording in (True, False):  # the microphone's shortcut starts it, then stops it
        ActionChains(driver).key_down(Keys.ALT).send_keys("m").key_up(Keys.ALT).perform()
        wait.until(lambda d, on=recording: bool(d.find_elements("css selector", STOP)) == on)


STOP = "#live-mic .stop-button"


def _back_to_summary(driver) -> None:
    """Shift+Tab from the answer box back into the chat until the focus is on a folded model answer."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(60):
        ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        if driver.execute_script("return document.activeElement.tagName") == "SUMMARY" and _focus(driver) == "chat":
            return
    raise AssertionError("Shift+Tab never reached a model answer in the chat")


def _question_on_screen_or_done(driver) -> str:
    panel = _text_of(driver, "progress")
    return panel if "Interview finished" in panel else _question_on_screen(driver)


def _one_screen(driver) -> None:
    """At phone width, with the panel at the top of the screen: the question, the last score, the chat with the
    latest message and the answer box with its Submit button all within the screen's height, and nothing wider
    than the screen."""
    driver.execute_script("document.getElementById('progress').scrollIntoView({block: 'start'})")
    height = driver.execute_script("return window.innerHeight")
    width = driver.execute_script("return window.innerWidth")
    for selector in ("#progress .asked", "#progress .last", "#chat", "#answer textarea", "#submit"):
        rect = _rect(driver, selector)
        assert 0 <= rect["top"] and rect["bottom"] <= height, (selector, rect, height)
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width
    assert not _cut_labels(driver)


def test_a_file_that_is_not_a_recording_is_refused_in_words(typed_page, services, tmp_path):
    """A .txt chosen for the push-to-talk box got Gradio's toast naming MIME types; now a sentence beside the box
    says what to upload instead, and a real recording still goes through."""
    from selenium.webdriver.support.ui import WebDriverWait

    from interviewer.tts import chunks_to_wav

    notes, recording = tmp_path / "my notes.txt", tmp_path / "answer.wav"
    notes.write_text("not a recording")
    recording.write_bytes(chunks_to_wav(services.tts.synthesize("A reward model scores answers.")))
    driver = chromium(tmp_path / "profile")
    try:
        driver.get(typed_page)
        wait = WebDriverWait(driver, 120)
        wait.until(lambda d: d.find_elements("css selector", "#push-mic button[aria-label='Upload file']"))
        driver.find_element("css selector", "#push-mic button[aria-label='Upload file']").click()
        wait.until(lambda d: d.find_elements("css selector", "#push-mic input[type=file]"))
        driver.find_element("css selector", "#push-mic input[type=file]").send_keys(str(notes))
        wait.until(lambda d: _text_of(d, "upload-note"))
        note = _text_of(driver, "upload-note")
        assert note.startswith("my notes.txt is not a recording.") and "WAV, MP3, OGG or FLAC" in note
        assert "Invalid file type" not in driver.find_element("tag name", "body").text
        assert _snapshot(driver, "#upload-note", "e => e.getAttribute('role')") == ["alert"]  # read out at once
        driver.find_element("css selector", "#push-mic input[type=file]").send_keys(str(recording))
        wait.until(lambda d: "Press Start" in _text_of(d, "chat"))  # it reached the page: no interview yet
        assert not _text_of(driver, "upload-note")
    finally:
        driver.quit()
