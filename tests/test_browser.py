"""A real browser: Debian's Chromium, headless, hears a WAV file as its microphone and holds a whole
one-question interview by voice: the spoken question, the answer heard hands-free, its transcript and score,
the next spoken line, and (after a follow-up and a second answer, when the grade calls for one) the close and
the report.
"""

from __future__ import annotations

import re
import shutil
import wave

import numpy as np
import pytest
from servers import free_port

from interviewer.audio import chunks_to_16k
from interviewer.session import SessionOptions

pytestmark = pytest.mark.real
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ANSWER = "A reward model is trained on human preference comparisons, and the policy is then optimised with PPO."
FOLLOW_UP_ANSWER = ("A KL penalty keeps the policy close to the supervised model, so it cannot exploit the "
                    "reward model with strange text.")


@pytest.fixture(scope="module")
def page(services, tmp_path_factory):
    from interviewer.ui.app import build_app

    demo = build_app(services, SessionOptions(topics=("rlhf",), questions=1, answer_seconds=120))
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def microphone(services, tmp_path_factory):
    """A WAV the browser plays as its microphone: silence, the answer, a long pause, a second answer."""
    first, second = (chunks_to_16k(services.tts.synthesize(text)) for text in (ANSWER, FOLLOW_UP_ANSWER))
    # Leading silence longer than the spoken greeting and question, and between the answers longer than the
    # reply: the app ignores the microphone while it speaks, and the fake device starts playing this file the
    # moment recording starts.
    audio = np.concatenate([np.zeros(16000 * 25), first, np.zeros(16000 * 35), second, np.zeros(16000 * 5)])
    path = tmp_path_factory.mktemp("mic") / "answer.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


@pytest.fixture
def browser(microphone, tmp_path):
    if not (CHROMIUM and DRIVER):
        pytest.fail("Chromium and chromedriver are needed: `make test` installs them (apt-get install chromium "
                    "chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 "--autoplay-policy=no-user-gesture-required", f"--use-file-for-fake-audio-capture={microphone}",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
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
    record.click()
    wait.until(lambda d: "words/min" in _chat(d))  # the answer was heard, hands-free, and transcribed
    lines = [line for line in _chat(browser).lower().splitlines() if line.strip()]
    heard = lines[next(i for i, line in enumerate(lines) if "words/min" in line) - 1]  # the transcript
    said = set(_words(ANSWER.replace("optimised", "optimized")))
    assert len(said & set(_words(heard))) >= 0.8 * len(said), heard  # all of it, the end too
    wait.until(lambda d: "Score" in _chat(d))
    wait.until(lambda d: "?" in _chat(d).split("Score")[-1] or "overall score" in _chat(d).lower())
    wait.until(_playing)  # and the reply is spoken
    if "overall score" not in _chat(browser).lower():  # a follow-up was asked: the second answer replies
        wait.until(lambda d: _chat(d).count("words/min") == 2)  # the second answer was heard too
    wait.until(lambda d: "overall score" in _chat(d).lower())
    wait.until(lambda d: "Interview report" in d.find_element("tag name", "body").text)


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
