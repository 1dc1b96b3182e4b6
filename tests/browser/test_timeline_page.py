"""The timeline editor in a real Chromium, rendered from its template with generated media.

The page is the include inside a form, served with the static files and the media the template
links to by a small local server; the view around it is tested elsewhere. Expected values are
computed here from the media and from projects.engines.rules, never copied from the browser.
"""

from __future__ import annotations

import http.server
import math
import random
import threading
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from django import forms
from django.template.loader import render_to_string
from django.urls import reverse
from playwright.sync_api import JSHandle, Page, expect

from projects.engines import rules
from projects.forms import SecondsField
from projects.mediakit import pictures, waveform
from projects.models import AudioClip, DetectedFace, SourceVideo
from tests.support import timelines
from tests.support.browser import screenshot
from tests.support.mediagen import make_audio, make_video

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
VIDEO_MS = 8000
FACE = {"id": 3, "start_ms": 2000, "end_ms": 6000}
RULES = {
    "min_crop_ms": 2000,
    "min_overlap_ms": 2000,
    "min_audio_ms": 2000,
    "max_audio_ms": 60000,
    "volume_max": 2,
}


VOLUME_ATTRS = {"min": "0", "max": "2", "step": "0.05"}


class RangeInput(forms.NumberInput):
    input_type = "range"


class TimelineForm(forms.Form):
    """The fields of the task form as the page contract names them (seconds, ms precision)."""

    face = forms.IntegerField(widget=forms.HiddenInput, required=False)
    audio = forms.ChoiceField(label="Audio clip")
    sound_start = SecondsField(label="Crop start")
    sound_end = SecondsField(label="Crop end")
    sound_insert = SecondsField(label="Insert at")
    sound_volume = forms.FloatField(label="New speech volume", widget=RangeInput(VOLUME_ATTRS))
    original_audio_volume = forms.FloatField(
        label="Original sound volume", widget=RangeInput(VOLUME_ATTRS)
    )
    watermark = forms.BooleanField(label="Also make a watermarked copy", required=False)


@pytest.fixture(scope="module")
def media_files(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("timeline")
    video = make_video(folder / "video.mp4", width=320, height=180, fps=10, duration_s=8)
    clip = make_audio(folder / "clip.wav", kind="noise", duration_s=4.5)
    short_clip = make_audio(folder / "short.wav", kind="noise", duration_s=1)
    strip = pictures.make_thumbnail_strip(video, count=8, height=40)
    (folder / "strip.jpg").write_bytes(strip.jpeg)
    face = pictures.make_thumbnail_strip(video, count=1, height=48)
    (folder / "face.jpg").write_bytes(face.jpeg)
    return {
        "video": video,
        "clip": clip,
        "short_clip": short_clip,
        "strip_jpg": folder / "strip.jpg",
        "face_jpg": folder / "face.jpg",
        "strip": strip,
        "video_peaks": waveform.waveform_peaks(video),
        "clip_peaks": waveform.waveform_peaks(clip),
        "short_clip_peaks": waveform.waveform_peaks(short_clip),
    }


def _page_context(files: dict) -> dict:
    strip = files["strip"]
    video = SourceVideo(
        pk=1,
        duration_ms=VIDEO_MS,
        width=320,
        height=180,
        strip_tile_count=strip.count,
        media_info={
            "strip": {
                "tile_width": strip.tile_width,
                "tile_height": strip.tile_height,
                "times_ms": list(strip.times_ms),
            }
        },
        waveform=files["video_peaks"],
    )
    video.thumbnail_strip.name = "strip.jpg"
    clip = AudioClip(
        pk=7,
        source="upload",
        original_name="noise.wav",
        duration_ms=round(files["clip_peaks"]["duration"] * 1000),
        waveform=files["clip_peaks"],
    )
    short_clip = AudioClip(
        pk=8,
        source="upload",
        original_name="short.wav",
        duration_ms=round(files["short_clip_peaks"]["duration"] * 1000),
        waveform=files["short_clip_peaks"],
    )
    face = DetectedFace(pk=FACE["id"], start_ms=FACE["start_ms"], end_ms=FACE["end_ms"])
    face.thumbnail.name = "face.jpg"
    face.listed_as = 1  # as selectors.current_faces numbers the faces it lists
    form = TimelineForm(initial={"sound_volume": 1, "original_audio_volume": 1})
    clips = [clip, short_clip]
    form.fields["audio"].choices = [("", "Choose a clip…")] + [(c.pk, str(c)) for c in clips]
    return {"video": video, "faces": [face], "audio_clips": clips, "form": form, "rules": RULES}


def _render_page(files: dict) -> str:
    include = render_to_string("projects/includes/timeline.html", _page_context(files))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
        '<link rel="stylesheet" href="/static/css/app.css"></head><body><main>'
        f'<form method="post" action="/submit" id="task-form" novalidate>{include}'
        '<button type="submit" class="primary">Send</button></form></main></body></html>'
    )


class _Site(http.server.ThreadingHTTPServer):
    page = ""
    routes: dict[str, Path]
    posted: dict | None = None


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Site

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/":
            self._send(self.server.page.encode(), "text/html; charset=utf-8")
        elif path in self.server.routes:
            self._send_file(self.server.routes[path])
        elif path.startswith("/static/") and ".." not in path:
            self._send_file(STATIC_DIR / path.removeprefix("/static/"))
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.posted = {key: values[0] for key, values in parse_qs(body).items()}
        self._send(b"posted", "text/plain")

    def _send_file(self, path: Path) -> None:
        if not path.is_file():
            self.send_error(404)
            return
        types = {".js": "text/javascript", ".css": "text/css", ".mp4": "video/mp4"}
        types |= {".wav": "audio/wav", ".jpg": "image/jpeg"}
        self._send(path.read_bytes(), types.get(path.suffix, "application/octet-stream"))

    def _send(self, data: bytes, content_type: str) -> None:
        # Byte ranges, so that the video element can seek as it does against the real server.
        start, end = 0, len(data) - 1
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes="):
            first, _, last = wanted[6:].partition("-")
            start, end = int(first or 0), min(int(last) if last else end, end)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.wfile.write(data[start : end + 1])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(media_files) -> Iterator[_Site]:
    server = _Site(("127.0.0.1", 0), _Handler)
    server.routes = {
        reverse("projects:video-file", args=[1, "file"]): media_files["video"],
        reverse("projects:video-file", args=[1, "thumbnail_strip"]): media_files["strip_jpg"],
        reverse("projects:audio-file", args=[7]): media_files["clip"],
        reverse("projects:audio-file", args=[8]): media_files["short_clip"],
        reverse("projects:face-file", args=[FACE["id"]]): media_files["face_jpg"],
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser, site, media_files, request) -> Iterator[Page]:
    site.page = _render_page(media_files)
    site.posted = None
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(f"http://127.0.0.1:{site.server_port}/")
    opened.timeline = _import_timeline(opened)
    opened.wait_for_function("timeline => timeline.editors.size === 1", arg=opened.timeline)
    yield opened
    screenshot(opened, f"timeline-{request.node.name}")  # the screen as the test left it
    context.close()
    assert errors == []


def _import_timeline(page: Page) -> JSHandle:
    """The editor's entry module as the page loaded it (a module runs once per URL and page)."""
    return page.evaluate_handle(
        "() => import(document.querySelector('script[type=module][src*=\"timeline/main\"]').src)"
    )


def _editor(page: Page, expression: str):
    """`expression` about the page's one editor (`editor`), evaluated in the page."""
    return page.evaluate(
        f"timeline => {{ const editor = [...timeline.editors.values()][0]; return {expression}; }}",
        page.timeline,
    )


def _fields(page: Page) -> list[str]:
    names = ("sound_start", "sound_end", "sound_insert")
    return [page.input_value(f"[data-tl-field={name}] input") for name in names]


def _choose_clip_and_face(page: Page) -> None:
    page.select_option("[data-tl-field=audio] select", "7")
    page.wait_for_function(
        "timeline => [...timeline.editors.values()][0].source.clipWave.handles !== null",
        arg=page.timeline,
    )
    page.evaluate(
        "detail => document.body.dispatchEvent(new CustomEvent('faceSelected', {detail}))", FACE
    )


def _clip_ms(media_files: dict) -> int:
    return round(media_files["clip_peaks"]["duration"] * 1000)


def _sending_blocked(page: Page) -> bool:
    """Whether the rules hold the submit button back; it always stays focusable."""
    button = page.locator("#task-form > button[type=submit]")
    assert button.evaluate("b => b.disabled") is False
    return button.get_attribute("aria-disabled") == "true"


def _status(page: Page) -> str:
    page.wait_for_timeout(400)  # the sentences follow the last change after 300 ms
    return page.inner_text("[data-tl-status]")


def test_rules_in_the_browser_say_what_the_server_says(page):
    generator = random.Random(11)
    cases = []
    for _ in range(3000):
        audio_ms = generator.randint(2000, 60000)
        video_ms = generator.randint(2000, 60000)
        face_start = generator.randint(0, video_ms)
        sound_start = generator.randint(0, audio_ms)
        cases.append(
            {
                "audio_ms": audio_ms,
                "video_ms": video_ms,
                "face_start_ms": face_start,
                "face_end_ms": generator.randint(face_start, video_ms),
                "sound_start_ms": sound_start,
                "sound_end_ms": sound_start + generator.randint(-1000, 8000),
                "sound_insert_ms": generator.randint(0, video_ms + 3000),
            }
        )
    expected = [[v.text for v in rules.check_advanced_timing(**case)] for case in cases]
    got = page.evaluate(
        """async cases => {
             const rules = await import("/static/js/rules.js");
             return cases.map(c => rules.checkAdvancedTiming({
               audioMs: c.audio_ms, videoMs: c.video_ms, faceStartMs: c.face_start_ms,
               faceEndMs: c.face_end_ms, soundStartMs: c.sound_start_ms,
               soundEndMs: c.sound_end_ms, soundInsertMs: c.sound_insert_ms,
             }).map(v => v.text)); }""",
        cases,
    )
    assert got == expected
    assert any(expected), "the random cases should break rules too"
    for volume in (0, 1.25, 2, 2.5, -0.3):
        server = [v.text for v in rules.check_volume("sound_volume", volume)]
        assert page.evaluate(
            """async v => (await import("/static/js/rules.js"))
                 .checkVolume('sound_volume', v)[0]?.text""",
            volume,
        ) == (server[0] if server else None)


def test_the_editor_adds_no_global_but_wavesurfers(page):
    """The editor's modules share nothing through `window`; only the vendored UMD build does."""
    added = page.evaluate(
        """() => {
             const ours = Object.getOwnPropertyNames(window);
             const frame = document.createElement("iframe");
             document.body.append(frame);
             const fresh = new Set(Object.getOwnPropertyNames(frame.contentWindow));
             frame.remove();
             return ours.filter(name => !fresh.has(name) && !/^[0-9]+$/.test(name)); }"""
    )
    assert added == ["WaveSurfer"]


def test_a_chosen_clip_and_face_fill_the_fields_and_place_the_clip(page, media_files):
    assert not page.is_visible("[data-tl-block]")
    assert _sending_blocked(page)
    _choose_clip_and_face(page)
    clip_ms = _clip_ms(media_files)
    assert _fields(page) == ["0.000", f"{min(clip_ms, VIDEO_MS) / 1000:.3f}", "2.000"]
    assert page.input_value("input[type=hidden][name=face]") == str(FACE["id"])
    band = page.locator("[data-tl-person=face] [data-tl-on-screen]")
    assert band.is_visible()
    left = band.evaluate("e => parseFloat(e.style.left)")
    assert left == pytest.approx(FACE["start_ms"] / VIDEO_MS * 100)
    assert _status(page).startswith("✓ Ready")
    assert not _sending_blocked(page)


def test_dragging_the_clip_block_moves_the_insert_time(page):
    _choose_clip_and_face(page)
    block = page.locator("[data-tl-block]")
    block.scroll_into_view_if_needed()
    box = block.bounding_box()
    canvas_px = page.locator("[data-tl-canvas]").evaluate("e => e.clientWidth")
    page.mouse.move(box["x"] + 10, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 70, box["y"] + box["height"] / 2, steps=6)
    page.mouse.up()
    moved_ms = math.floor(60 * VIDEO_MS / canvas_px + 0.5)  # JavaScript's Math.round
    assert _fields(page)[2] == f"{(FACE['start_ms'] + moved_ms) / 1000:.3f}"
    assert block.get_attribute("aria-valuenow") == f"{(FACE['start_ms'] + moved_ms) / 1000:.3f}"


def test_the_keyboard_moves_the_focused_handle(page, media_files):
    _choose_clip_and_face(page)
    page.focus("[data-tl-block]")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowLeft")
    assert _fields(page)[2] == f"{(FACE['start_ms'] + 100 - 1000) / 1000:.3f}"
    crop_end = page.locator("[data-tl-clip-wave] [part~='region-handle-right']")
    assert crop_end.get_attribute("role") == "slider"
    crop_end.focus()
    page.keyboard.press("Shift+ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expected_end = min(_clip_ms(media_files), VIDEO_MS) - 1100
    assert _fields(page)[1] == f"{expected_end / 1000:.3f}"
    assert crop_end.get_attribute("aria-valuenow") == f"{expected_end / 1000:.3f}"


def test_the_clip_is_a_line_on_the_chosen_faces_row_as_on_a_dubs_page(page, media_files):
    """The video page's editor is the dub page's: one row per person (here the chosen face's,
    labelled with its thumbnail, its time on screen in colour) and the clip a block on it that
    is dragged, moved with keys and cropped by its edges as a dub's lines are; the fields
    follow every move."""
    assert _editor(page, "[editor.constructor.name, editor.source.constructor.name]") == [
        "Editor",
        "FormSource",
    ]
    name = page.locator("[data-tl-person-name=face]")
    assert name.inner_text() == "No face chosen"
    _choose_clip_and_face(page)
    expect(name).to_have_text("Person 1")
    thumbnail = name.locator("img")
    expect(thumbnail).to_be_visible()
    assert thumbnail.get_attribute("src") == reverse("projects:face-file", args=[FACE["id"]])
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
    )
    row = page.locator("[data-tl-person=face]")
    on_screen = row.locator("[data-tl-on-screen]")
    expect(on_screen).to_be_visible()
    assert on_screen.evaluate("e => [parseFloat(e.style.left), parseFloat(e.style.width)]") == [
        pytest.approx(FACE["start_ms"] / VIDEO_MS * 100),
        pytest.approx((FACE["end_ms"] - FACE["start_ms"]) / VIDEO_MS * 100),
    ]
    block = row.locator("[data-tl-block]")
    start_edge = row.locator("[data-tl-edge=start]")
    end_edge = row.locator("[data-tl-edge=end]")
    for slider in (block, start_edge, end_edge):
        expect(slider).to_have_attribute("role", "slider")
    clip_ms = _clip_ms(media_files)
    assert _fields(page) == ["0.000", f"{clip_ms / 1000:.3f}", "2.000"]
    ms_per_px = VIDEO_MS / page.locator("[data-tl-canvas]").evaluate("e => e.clientWidth")

    # Dragged by its middle: the insert time follows, to the millisecond.
    block.scroll_into_view_if_needed()
    box = block.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y, steps=5)
    page.mouse.up()
    insert_ms = FACE["start_ms"] + math.floor(40 * ms_per_px + 0.5)
    assert _fields(page) == ["0.000", f"{clip_ms / 1000:.3f}", f"{insert_ms / 1000:.3f}"]

    # Keys on the block move it; Shift on its start edge crops 1 s off the clip's start and
    # starts the line 1 s later, so the rest of its sound stays where it was on the video.
    block.focus()
    page.keyboard.press("ArrowRight")
    insert_ms += 100
    assert _fields(page)[2] == f"{insert_ms / 1000:.3f}"
    start_edge.focus()
    page.keyboard.press("Shift+ArrowRight")
    insert_ms += 1000
    assert _fields(page) == ["1.000", f"{clip_ms / 1000:.3f}", f"{insert_ms / 1000:.3f}"]
    expect(start_edge).to_have_attribute("aria-valuenow", f"{insert_ms / 1000:.3f}")

    # The end edge dragged to the left: the line uses less of its clip, and starts where it did.
    box = end_edge.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 40, y, steps=5)
    page.mouse.up()
    end_ms = clip_ms - math.floor(40 * ms_per_px + 0.5)
    assert _fields(page) == ["1.000", f"{end_ms / 1000:.3f}", f"{insert_ms / 1000:.3f}"]
    expect(block).to_have_attribute("aria-valuenow", f"{insert_ms / 1000:.3f}")
    expect(end_edge).to_have_attribute("aria-valuenow", f"{(insert_ms + end_ms - 1000) / 1000:.3f}")
    assert _editor(page, "editor.source.state.endMs") == end_ms
    assert _status(page).startswith("✓ Ready")
    screenshot(page, "timeline-face-row")


def test_a_broken_rule_blocks_sending_with_the_servers_words_and_a_fix(page, media_files):
    _choose_clip_and_face(page)
    page.fill("[data-tl-field=sound_end] input", "1.5")
    broken = rules.check_crop(audio_ms=_clip_ms(media_files), sound_start_ms=0, sound_end_ms=1500)
    assert broken[0].text in _status(page)
    assert _sending_blocked(page)
    width = page.locator("[data-tl-block]").evaluate("e => parseFloat(e.style.width)")
    assert width == pytest.approx(1500 / VIDEO_MS * 100)
    page.click("[data-tl-status] .tl-apply")
    assert _fields(page)[1] == "2.000"
    assert not _sending_blocked(page)


def test_the_overlap_rule_suggests_the_servers_move(page, media_files):
    _choose_clip_and_face(page)
    page.fill("[data-tl-field=sound_insert] input", "0")
    page.fill("[data-tl-field=sound_end] input", "2.5")
    page.locator("[data-tl-field=sound_end] input").press("Tab")
    found = rules.check_advanced_timing(
        audio_ms=_clip_ms(media_files),
        video_ms=VIDEO_MS,
        face_start_ms=FACE["start_ms"],
        face_end_ms=FACE["end_ms"],
        sound_start_ms=0,
        sound_end_ms=2500,
        sound_insert_ms=0,
    )
    assert [v.text for v in found] == [
        "The clip must overlap the face's window by at least 2 s; it overlaps 0.5 s. "
        "Move it 1.5 s later."
    ]
    assert found[0].text in _status(page)
    page.click("[data-tl-status] .tl-apply")
    assert _fields(page)[2] == "1.500"
    assert _status(page).startswith("✓ Ready")


def test_every_fix_the_browser_offers_is_the_servers_and_keeps_every_rule(page):
    """The walk of tests.support.timelines, built again in the page from the same values."""
    expected = []
    for line in timelines.line_walk():
        fix = rules.suggest_timing_fix(**line)
        if fix is None:
            expected.append("none")
        else:
            values = (fix.sentence, fix.sound_start_ms, fix.sound_end_ms, fix.sound_insert_ms)
            expected.append("|".join(str("null" if v is None else v) for v in values))
    got = page.evaluate(
        """async axes => {
             const rules = await import("/static/js/rules.js");
             const answers = [];
             let brokenAfterFix = 0, fixed = 0;
             for (const audioMs of axes.audio) for (const videoMs of axes.video)
             for (const face of axes.faces) for (const soundStartMs of axes.starts)
             for (const soundEndMs of axes.ends) for (const soundInsertMs of axes.inserts) {
               const line = {audioMs, videoMs, faceStartMs: face[0], faceEndMs: face[1],
                             soundStartMs, soundEndMs, soundInsertMs};
               const fix = rules.suggestTimingFix(line);
               if (fix === null) { answers.push("none"); continue; }
               answers.push([fix.sentence, fix.soundStartMs, fix.soundEndMs, fix.soundInsertMs]
                 .map(v => v === null ? "null" : String(v)).join("|"));
               if (!fix.canApply) continue;
               fixed += 1;
               const after = Object.assign({}, line, {soundStartMs: fix.soundStartMs,
                 soundEndMs: fix.soundEndMs, soundInsertMs: fix.soundInsertMs});
               if (rules.checkAdvancedTiming(after).length) brokenAfterFix += 1;
             }
             return {answers: answers.join("\\n"), fixed, brokenAfterFix}; }""",
        {
            "audio": timelines.AUDIO_MS,
            "video": timelines.VIDEO_MS,
            "faces": timelines.FACE_WINDOWS_MS,
            "starts": timelines.STARTS_MS,
            "ends": timelines.ENDS_MS,
            "inserts": timelines.INSERTS_MS,
        },
    )
    assert got["answers"].split("\n") == expected
    assert got["fixed"] > 10_000 and got["brokenAfterFix"] == 0


def _apply_buttons(page: Page):
    return page.locator("[data-tl-status] .tl-apply")


def test_a_short_crop_past_the_clips_end_gets_one_fix_that_works(page, media_files):
    _choose_clip_and_face(page)
    clip_ms = _clip_ms(media_files)
    page.fill("[data-tl-field=sound_start] input", "3.5")
    page.fill("[data-tl-field=sound_end] input", "5")
    page.locator("[data-tl-field=sound_end] input").press("Tab")
    status = _status(page)
    assert "The audio clip must last at least 2 s; it lasts 1.5 s." in status
    assert f"after the audio's end ({rules.seconds(clip_ms)})" in status
    assert _apply_buttons(page).count() == 1
    expected = rules.suggest_timing_fix(
        audio_ms=clip_ms,
        video_ms=VIDEO_MS,
        face_start_ms=FACE["start_ms"],
        face_end_ms=FACE["end_ms"],
        sound_start_ms=3500,
        sound_end_ms=5000,
        sound_insert_ms=FACE["start_ms"],
    )
    assert expected.sentence in status
    screenshot(page, "timeline-one-fix")
    _apply_buttons(page).click()
    assert _fields(page) == [
        f"{expected.sound_start_ms / 1000:.3f}",
        f"{expected.sound_end_ms / 1000:.3f}",
        f"{expected.sound_insert_ms / 1000:.3f}",
    ]
    assert _status(page).startswith("✓ Ready")
    assert _apply_buttons(page).count() == 0


def test_a_clip_too_short_for_the_rules_offers_no_fix_and_says_why(page):
    page.select_option("[data-tl-field=audio] select", "8")
    page.evaluate(
        "detail => document.body.dispatchEvent(new CustomEvent('faceSelected', {detail}))", FACE
    )
    status = _status(page)
    assert "the audio clip lasts only 1 s, less than the 2 s the rules need" in status
    assert "Choose a longer clip." in status
    assert _apply_buttons(page).count() == 0


def test_a_face_on_screen_too_briefly_offers_no_fix_for_a_short_crop(page):
    _choose_clip_and_face(page)
    brief = {"id": 4, "start_ms": 3000, "end_ms": 4500}
    page.evaluate(
        "detail => document.body.dispatchEvent(new CustomEvent('faceSelected', {detail}))", brief
    )
    page.fill("[data-tl-field=sound_end] input", "1.5")
    status = _status(page)
    assert "The audio clip must last at least 2 s" in status
    assert "the face is on screen for only 1.5 s, less than the 2 s the rules need" in status
    assert _apply_buttons(page).count() == 0
    screenshot(page, "timeline-no-fix")


def test_a_held_back_submit_stays_focusable_and_leads_to_the_first_rule(page, site):
    button = page.locator("#task-form > button[type=submit]")
    assert _sending_blocked(page)
    status_id = page.get_attribute("[data-tl-status]", "id")
    assert status_id in button.get_attribute("aria-describedby").split()
    button.focus()
    assert page.evaluate("document.activeElement.textContent") == "Send"
    page.keyboard.press("Enter")
    first = page.locator("[data-tl-status] li").first
    assert (
        first.inner_text()
        == "Pick the face that should speak. Choose one of the faces found in the video."
    )
    assert page.evaluate("document.activeElement === document.querySelector('[data-tl-status] li')")
    screenshot(page, "timeline-held-back-submit")
    page.wait_for_timeout(300)
    assert site.posted is None  # nothing was sent
    _choose_clip_and_face(page)
    assert not _sending_blocked(page)
    button.click()
    page.wait_for_url("**/submit")
    assert site.posted["sound_end"] == "4.500"


def _major_tick_spacing_px(page: Page) -> float:
    """The narrowest gap between two labelled ticks of the ruler, in screen pixels."""
    lefts = page.eval_on_selector_all(
        ".tl-tick-major", "ticks => ticks.map(t => t.getBoundingClientRect().left)"
    )
    return min(b - a for a, b in pairwise(lefts))


def test_zoom_widens_the_track_and_keeps_the_ruler_readable(page):
    canvas = page.locator("[data-tl-canvas]")
    fit_px = canvas.evaluate("e => e.clientWidth")
    assert _major_tick_spacing_px(page) >= 64
    page.click("[data-tl-zoom=in]")
    assert canvas.evaluate("e => e.style.width") == "150%"
    assert canvas.evaluate("e => e.clientWidth") == pytest.approx(fit_px * 1.5, abs=1)
    assert _major_tick_spacing_px(page) >= 64
    box = page.locator("[data-tl-scroller]").bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 60)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -200)
    page.keyboard.up("Control")
    assert float(canvas.evaluate("e => parseFloat(e.style.width)")) > 150
    assert _major_tick_spacing_px(page) >= 64
    page.click("[data-tl-zoom=fit]")
    assert canvas.evaluate("e => e.style.width") == "100%"


def test_clicking_the_ruler_seeks_the_video(page):
    ruler = page.locator("[data-tl-ruler]")
    box = ruler.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + 10)
    page.wait_for_function("document.querySelector('[data-tl-video]').currentTime > 0")
    seconds = page.evaluate("document.querySelector('[data-tl-video]').currentTime")
    assert seconds == pytest.approx(0.75 * VIDEO_MS / 1000, abs=0.05)
    playhead_left = page.locator("[data-tl-playhead]").evaluate("e => parseFloat(e.style.left)")
    assert playhead_left == pytest.approx(75, abs=1)


def test_listening_to_the_mix_schedules_the_crop_at_the_insert_time(page):
    _choose_clip_and_face(page)
    page.fill("[data-tl-field=sound_start] input", "0.5")
    page.locator("[data-tl-field=sound_start] input").press("Tab")
    page.click("[data-tl-listen]")
    page.wait_for_function(
        "timeline => [...timeline.editors.values()][0].mix.scheduled.length === 1",
        arg=page.timeline,
        timeout=5000,
    )
    plan = _editor(
        page,
        """{when: editor.mix.scheduled[0].when, now: editor.mix.context.currentTime,
            video: editor.mix.video.currentTime, insert: editor.mix.scheduled[0].atS,
            gain: editor.mix.originalGain.gain.value, pressed: editor.mix.button.ariaPressed}""",
    )
    assert plan["insert"] == FACE["start_ms"] / 1000
    assert plan["pressed"] == "true"
    # The clip starts when the video reaches the insert time, on the audio clock.
    assert plan["when"] - plan["now"] == pytest.approx(plan["insert"] - plan["video"], abs=0.15)
    page.click("[data-tl-listen]")
    assert page.evaluate("document.querySelector('[data-tl-video]').paused")
    assert page.get_attribute("[data-tl-listen]", "aria-pressed") == "false"


def test_listening_to_the_mix_starts_a_second_before_the_clip(page):
    _choose_clip_and_face(page)
    page.fill("[data-tl-field=sound_insert] input", "3")
    page.locator("[data-tl-field=sound_insert] input").press("Tab")
    assert page.evaluate("document.querySelector('[data-tl-video]').currentTime") == 0
    page.click("[data-tl-listen]")
    page.wait_for_function(
        "timeline => [...timeline.editors.values()][0].mix.mixing", arg=page.timeline
    )
    started = page.evaluate("document.querySelector('[data-tl-video]').currentTime")
    assert 2.0 <= started < 2.5, "a second before the clip at 3 s, not at 0:00"
    page.click("[data-tl-listen]")
    # Where someone put the playhead between there and the clip's end, the mix starts there.
    page.evaluate("document.querySelector('[data-tl-video]').currentTime = 4.2")
    page.click("[data-tl-listen]")
    page.wait_for_function(
        "timeline => [...timeline.editors.values()][0].mix.mixing", arg=page.timeline
    )
    assert 4.2 <= page.evaluate("document.querySelector('[data-tl-video]').currentTime") < 4.7


def test_without_javascript_the_fields_post_as_typed(browser, site, media_files):
    site.page = _render_page(media_files)
    site.posted = None
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{site.server_port}/")
    assert not page.is_visible("[data-tl-js]")
    page.select_option("[data-tl-field=audio] select", "7")
    page.fill("[data-tl-field=sound_start] input", "0.250")
    page.fill("[data-tl-field=sound_end] input", "3.125")
    page.fill("[data-tl-field=sound_insert] input", "2.5")
    screenshot(page, "timeline-without-javascript")
    page.click("#task-form > button[type=submit]")
    page.wait_for_url("**/submit")
    context.close()
    assert {key: site.posted[key] for key in ("audio", "sound_start", "sound_end")} == {
        "audio": "7",
        "sound_start": "0.250",
        "sound_end": "3.125",
    }
    assert site.posted["sound_insert"] == "2.5"
    assert site.posted["sound_volume"] == "1"
