#!/usr/bin/env python3
"""Browser test of the node's web UI, in headless Chromium driven by Selenium.

Usually started by Tests/browser/run.sh, which starts a node and passes its URL. By hand:

    SHOAL_UI_URL=http://127.0.0.1:PORT/ python3 Tests/browser/test_webui.py

It loads the page, checks it shows the node's ID and loads nothing from elsewhere, uploads a
generated 3 MiB file through the file input (watching the progress bar), waits for its address,
sees it listed (after a reload too, when the node has GET /v1/files), downloads it through the
page's link and compares SHA-256, opens the stat view and checks the holders picture has one
column per object, looks the address up through the fetch field, uploads a 30 s WAV and seeks its
player (checking the browser fetched the middle with a 206 Range answer), checks errors are shown,
that polling pauses while the tab is hidden and that a 400 px window needs no sideways scrolling,
and saves screenshots (wide and narrow) under its temp dir (SHOAL_UI_TMP, or a new one), printing
their paths. It ends with a line "webui: N passed, M failed".
With SHOAL_UI_TOKEN set (a node started with --api-token) it also checks that the page asks for
the token and uses it: downloads and playback then go through memory instead of links.
Environment: SHOAL_UI_URL (required), SHOAL_UI_TOKEN, SHOAL_UI_TMP, CHROMIUM_BIN, CHROMEDRIVER_BIN.
"""
import hashlib
import json
import math
import os
import re
import signal
import struct
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

os.environ.setdefault("SE_OFFLINE", "true")   # Selenium Manager must not try to download anything
os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 30            # seconds for any one thing the page must show
DOWNLOAD_WAIT = 60
MAX_COLS = 300       # the page's cap on drawn columns (MAX_COLS in index.html)
SIZE = 3 * 1024 * 1024
ADDRESS = re.compile(r"^[0-9a-f]{64}(\.[A-Za-z0-9_-]+)?$")

# The test talks to loopback only: no proxy, whatever the environment says.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


TOKEN = os.environ.get("SHOAL_UI_TOKEN", "")


def api(base, path):
    """GET base+path: (status, parsed JSON or None)."""
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + TOKEN} if TOKEN else {})
    try:
        with opener.open(req, timeout=WAIT) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


class Check:
    def __init__(self):
        self.passed, self.failed, self.started = 0, 0, time.monotonic()

    def step(self, name, fn):
        t = time.monotonic()
        try:
            result = fn()
        except Exception:
            self.failed += 1
            print("FAIL  %s (%.1f s)" % (name, time.monotonic() - t), flush=True)
            raise
        self.passed += 1
        print("ok    %s (%.1f s)" % (name, time.monotonic() - t), flush=True)
        return result


def make_driver(tmp, downloads):
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-proxy-server",
              "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-sync",
              "--disable-component-update", "--window-size=1280,1000", "--autoplay-policy=no-user-gesture-required", "--mute-audio", "--user-data-dir=" + os.path.join(tmp, "profile")):
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {
        "download.default_directory": downloads, "download.prompt_for_download": False,
        "download.directory_upgrade": True, "safebrowsing.enabled": False})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"),
                      log_output=os.path.join(tmp, "chromedriver.log"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    return driver


def wait_for(driver, what, fn, timeout=WAIT):
    """Polls fn until it returns something true. The page re-renders lists as they change, so an
    element found a moment ago may be gone: such attempts are retried."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)) \
        .until(lambda d: fn(d), message="timed out waiting for " + what)


def click(driver, css, what):
    """Clicks the element at css, found afresh on each attempt."""
    wait_for(driver, what, lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def wav(seconds, rate=44100):
    """A mono 16-bit PCM WAV: a tone whose pitch rises each second, so every part differs."""
    frames = bytearray()
    for sec in range(seconds):
        f = 220 + 20 * sec
        period = struct.pack("<%dh" % rate, *(int(8000 * math.sin(2 * math.pi * f * i / rate)) for i in range(rate)))
        frames += period
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(frames)) + bytes(frames)


def media_requests(driver, address):
    """(status, Range header) of each request the browser made for the file, from the DevTools log."""
    ranges, statuses, ours = {}, {}, set()
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        p = msg.get("params", {})
        if msg["method"] == "Network.requestWillBeSent" and p["request"]["url"].endswith("/v1/files/" + address):
            ours.add(p["requestId"])
            ranges.setdefault(p["requestId"], p["request"]["headers"].get("Range"))
        elif msg["method"] == "Network.requestWillBeSentExtraInfo":
            r = {k.lower(): v for k, v in p.get("headers", {}).items()}.get("range")
            if r:
                ranges[p["requestId"]] = r
        elif msg["method"] == "Network.responseReceived":
            statuses[p["requestId"]] = p["response"]["status"]
    return [(statuses.get(rid), ranges.get(rid)) for rid in ours]


def screenshot(driver, path, width):
    driver.set_window_size(width, 1000)
    time.sleep(0.3)
    height = driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)")
    driver.set_window_size(width, min(max(height + 20, 600), 6000))
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.3)
    driver.save_screenshot(path)
    print("screenshot: " + path, flush=True)


def main():
    base = os.environ.get("SHOAL_UI_URL") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not base:
        sys.exit("test_webui: set SHOAL_UI_URL to the page's URL (run.sh does)")
    base = base.rstrip("/") + "/"
    tmp = os.environ.get("SHOAL_UI_TMP") or tempfile.mkdtemp(prefix="shoal-webui-")
    downloads = os.path.join(tmp, "downloads")
    os.makedirs(downloads, exist_ok=True)
    print("browser test of %s (temp dir %s)" % (base, tmp), flush=True)

    check = Check()
    # timeout(1) stops us with SIGTERM: unwind through the finally below so the browser is closed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("test_webui: stopped by SIGTERM (time limit?)"))
    driver = make_driver(tmp, downloads)
    try:
        run(check, driver, base, tmp, downloads)
    except Exception:
        traceback.print_exc()
        try:
            errors = driver.find_elements(By.CSS_SELECTOR, "#errors li")
            for e in errors:
                print("page shows error: " + e.text)
            screenshot(driver, os.path.join(tmp, "webui-failure.png"), 1280)
        except Exception as e:  # the browser itself may be gone
            print("no failure screenshot: %s" % e)
        check.failed = max(check.failed, 1)
    finally:
        driver.quit()
    print("webui: %d passed, %d failed (%.1f s)" % (check.passed, check.failed, time.monotonic() - check.started), flush=True)
    return 1 if check.failed else 0


def run(check, driver, base, tmp, downloads):
    _, status = api(base, "v1/status")
    assert status and status.get("nodeID"), "GET /v1/status did not answer a NodeStatus"

    def load():
        req = urllib.request.Request(base, headers={"Authorization": "Bearer " + TOKEN} if TOKEN else {})
        try:
            with opener.open(req, timeout=WAIT) as r:
                ctype = r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            raise AssertionError("GET / answered %d: this node does not serve the web UI" % e.code) from None
        assert ctype.startswith("text/html"), "GET / answered Content-Type %r, not text/html" % ctype
        driver.get(base)
        if TOKEN:   # the page must ask for the token, then use it
            wait_for(driver, "the token form", lambda d: d.find_element(By.ID, "auth").is_displayed())
            assert driver.find_element(By.ID, "node-id").text != status["nodeID"], "the node answered without the token"
            driver.find_element(By.ID, "token").send_keys(TOKEN)
            driver.find_element(By.CSS_SELECTOR, "#auth-form button[type=submit]").click()
        wait_for(driver, "the node ID", lambda d: d.find_element(By.ID, "node-id").text == status["nodeID"])
        wait_for(driver, "the live indicator", lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live")
        assert status["listenAddress"] in driver.find_element(By.ID, "node-listen").text
        # Offline by construction: everything the page loaded came from the node itself.
        urls = driver.execute_script("return [location.href].concat(performance.getEntriesByType('resource').map(e => e.name))")
        foreign = [u for u in urls if not u.startswith(base.rstrip("/"))]
        assert not foreign, "the page loaded resources from elsewhere: %s" % foreign
    check.step("page loads and shows the node's identity" + (" after asking for the API token" if TOKEN else ""), load)

    def storage_shown():
        stats = {e.get_attribute("data-stat"): e.text for e in driver.find_elements(By.CSS_SELECTOR, "#stats .stat")}
        for key in ("storage", "cache", "backlog", "peers", "members"):
            assert key in stats, "no %s figure in %s" % (key, list(stats))
    check.step("storage, cache, repair backlog, peers and members are shown", storage_shown)

    name = "webui-test-%d.bin" % os.getpid()
    data = os.urandom(SIZE)
    upload_path = os.path.join(tmp, name)
    with open(upload_path, "wb") as f:
        f.write(data)

    def upload():
        # Watch the progress bar the way a user would: it must appear and reach 100 %.
        driver.execute_script("""
            window.__seen = {shown: false, values: []};
            new MutationObserver(records => {
              const p = document.getElementById('progress');
              for (const r of records) {
                if (r.target.id === 'progress-box' && !r.target.hidden) window.__seen.shown = true;
                if (r.target === p && r.attributeName === 'value' && r.oldValue != null) window.__seen.values.push(Number(r.oldValue));
              }
              if (p.hasAttribute('value')) window.__seen.values.push(Number(p.value));
            }).observe(document.getElementById('upload'), {attributes: true, attributeOldValue: true, subtree: true});""")
        driver.find_element(By.ID, "file-input").send_keys(upload_path)
        el = wait_for(driver, "the uploaded file's address", lambda d: d.find_element(By.CSS_SELECTOR, ".upload-done code.address"))
        address = el.text.strip()
        assert ADDRESS.match(address), "not an address: %r" % address
        seen = driver.execute_script("return window.__seen")
        assert seen["shown"], "the progress bar never appeared"
        assert 100 in seen["values"], "the progress bar never reached 100%%: %s" % seen["values"]
        assert driver.find_elements(By.CSS_SELECTOR, ".upload-done button[aria-label='Copy address']"), "no copy button"
        return address
    address = check.step("upload through the file input shows the address and progress", upload)

    row_css = '#files-body tr[data-address="%s"]' % address

    def listed():
        text = wait_for(driver, "the file in the list", lambda d: d.find_element(By.CSS_SELECTOR, row_css).text)
        assert name in text, "the row does not name the file: %r" % text
        assert "3 MiB" in text, "the row does not give the size: %r" % text
        code, keyring = api(base, "v1/files")
        source = driver.find_element(By.ID, "files-table").get_attribute("data-source")
        if code == 200:
            assert any(f.get("address") == address for f in keyring), "GET /v1/files does not list the upload"
            assert source == "node", "the node lists its files but the page shows %r" % source
            driver.refresh()   # the listing must come from the node, not the page's memory
            wait_for(driver, "the file listed after a reload", lambda d: d.find_element(By.CSS_SELECTOR, row_css))
        else:
            assert source == "session", "GET /v1/files answered %d but the page shows %r" % (code, source)
            assert driver.find_element(By.ID, "files-note").is_displayed(), "the page does not say the list is unavailable"
            print("      note: GET /v1/files answered %d; the page lists this session's uploads" % code)
    check.step("the file is listed", listed)

    def download():
        href = wait_for(driver, "the download link", lambda d: d.find_element(By.CSS_SELECTOR, row_css + " a.dl").get_attribute("href"))
        assert href.endswith("/v1/files/" + address), href
        click(driver, row_css + " a.dl", "the download link")
        target = os.path.join(downloads, name)

        def done(_):
            partial = [f for f in os.listdir(downloads) if f.endswith(".crdownload")]
            return os.path.exists(target) and not partial and os.path.getsize(target) == SIZE
        wait_for(driver, "the download of " + target, done, DOWNLOAD_WAIT)
        with open(target, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        want = hashlib.sha256(data).hexdigest()
        assert got == want, "downloaded bytes differ: sha256 %s, uploaded %s" % (got, want)
    check.step("download through the page's link gives the same bytes (SHA-256)", download)

    _, report = api(base, "v1/files/%s/stat" % address)
    assert report and report.get("objects"), "GET stat answered no objects"
    objects = report["objects"]
    holders = {n for o in objects for n in o["holders"]}

    def picture(opener_fn, what):
        driver.execute_script("document.getElementById('detail-body').replaceChildren()")
        opener_fn()
        pic = wait_for(driver, "the holders picture", lambda d: d.find_element(By.CSS_SELECTOR, "#detail svg.holders"))
        cols = pic.find_elements(By.CSS_SELECTOR, "g.col")
        assert len(cols) == min(len(objects), MAX_COLS), "%d columns drawn for %d objects" % (len(cols), len(objects))
        assert len(cols) == 1 + report["chunks"], "%d columns for 1 manifest and %d chunks" % (len(cols), report["chunks"])
        assert cols[0].get_attribute("data-kind") == "manifest", "the first column is not the manifest"
        assert int(pic.get_attribute("data-rows")) == len(holders), "rows %s for %d holders" % (pic.get_attribute("data-rows"), len(holders))
        filled = pic.find_elements(By.CSS_SELECTOR, "g.col rect.on")
        assert len(filled) == sum(len(o["holders"]) for o in objects), "filled cells do not match the holders"
        assert status["nodeID"] in pic.get_attribute("innerHTML"), "hover titles lack the full node ID"
        print("      %s: %d columns, %d rows" % (what, len(cols), len(holders)))

    check.step("the stat view draws one column per object", lambda: picture(
        lambda: click(driver, row_css + " button.stat-btn", "the Stat button"), "stat"))

    def fetch_field():
        box = driver.find_element(By.ID, "fetch-addr")
        box.clear()
        box.send_keys(address)
        driver.find_element(By.CSS_SELECTOR, "#fetch-form button[type=submit]").click()
        wait_for(driver, "a download link in the detail view",
                 lambda d: d.find_element(By.CSS_SELECTOR, "#detail a.dl").get_attribute("href").endswith(address))
    check.step("the fetch field opens any address", lambda: (picture(fetch_field, "fetch")))

    def media():
        audio_name = "webui-tone-%d.wav" % os.getpid()
        audio_path = os.path.join(tmp, audio_name)
        with open(audio_path, "wb") as f:
            f.write(wav(30))   # 2.6 MB: three 1 MiB chunks
        driver.get_log("performance")   # start the network log afresh
        driver.find_element(By.ID, "file-input").send_keys(audio_path)
        audio_address = wait_for(driver, "the audio file in the list", lambda d: next(
            (r.get_attribute("data-address") for r in d.find_elements(By.CSS_SELECTOR, "#files-body tr[data-address]") if audio_name in r.text), None))
        click(driver, '#files-body tr[data-address="%s"] button.play-btn' % audio_address, "the Listen button")
        el = wait_for(driver, "the audio player", lambda d: d.find_element(By.CSS_SELECTOR, "#detail audio"))
        if TOKEN:   # a media element cannot send the token: the page plays it from memory
            assert el.get_attribute("src").startswith("blob:"), el.get_attribute("src")
            duration = driver.execute_async_script("""
                const [el, done] = arguments, t = setTimeout(() => done(-1), 20000);
                const ok = () => { clearTimeout(t); done(el.duration); };
                el.readyState >= 1 ? ok() : el.addEventListener('loadedmetadata', ok, {once: true});""", el)
            assert abs(duration - 30) < 0.5, "the player did not load the file: duration %s" % duration
            print("      played from memory (token set); duration %.1f s" % duration)
            return
        assert el.get_attribute("src").endswith("/v1/files/" + audio_address), el.get_attribute("src")
        result = driver.execute_async_script("""
            const [el, done] = arguments, t0 = Date.now();
            const fail = why => done({error: why, readyState: el.readyState, currentTime: el.currentTime, duration: el.duration, mediaError: el.error && el.error.message});
            const timer = setTimeout(() => fail('timed out'), 20000);
            el.addEventListener('error', () => fail('media error'));
            const seek = () => {
              el.addEventListener('seeked', () => {
                const wait = () => el.readyState >= 2 ? (clearTimeout(timer), done({duration: el.duration, currentTime: el.currentTime, readyState: el.readyState, ms: Date.now() - t0})) : setTimeout(wait, 50);
                wait();
              }, {once: true});
              el.currentTime = 25;
            };
            if (el.readyState >= 1) seek(); else el.addEventListener('loadedmetadata', seek, {once: true});
            el.load && el.readyState === 0 && el.networkState === 3 && el.load();""", el)
        assert "error" not in result, "the player did not seek: %s" % result
        assert abs(result["duration"] - 30) < 0.5 and result["currentTime"] >= 24.9, "the player did not seek: %s" % result
        reqs = media_requests(driver, audio_address)
        partial = [r for r in reqs if r[0] == 206 and r[1] and not r[1].startswith("bytes=0-")]
        assert partial, "no Range request into the file after seeking: %s" % reqs
        print("      seeked to %.1f s of %.1f s; requests %s" % (result["currentTime"], result["duration"], reqs))
    check.step("an audio file plays in the page" + ("" if TOKEN else " from its link and seeks with Range (206)"), media)

    def errors_shown():
        box = driver.find_element(By.ID, "fetch-addr")
        box.clear()
        box.send_keys("not-an-address")
        driver.find_element(By.CSS_SELECTOR, "#fetch-form button[type=submit]").click()
        wait_for(driver, "an error message", lambda d: "not a Shoal address" in d.find_element(By.ID, "errors").text)
        absent = "ab" * 32   # well formed, stored nowhere: the node's JSON error must show
        box.clear()
        box.send_keys(absent)
        driver.find_element(By.CSS_SELECTOR, "#fetch-form button[type=submit]").click()
        msg = wait_for(driver, "the node's error", lambda d: d.find_element(By.CSS_SELECTOR, "#detail .errmsg"))
        assert "404" in msg.text and "not_found" in msg.text, "the error is not shown plainly: %r" % msg.text
    check.step("a bad address and an absent file are reported plainly", errors_shown)

    def shots():
        click(driver, row_css + " button.stat-btn", "the Stat button")
        wait_for(driver, "the holders picture", lambda d: d.find_element(By.CSS_SELECTOR, "#detail svg.holders"))
        suffix = "-token" if TOKEN else ""
        screenshot(driver, os.path.join(tmp, "webui%s.png" % suffix), 1280)
        screenshot(driver, os.path.join(tmp, "webui%s-narrow.png" % suffix), 400)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, "the page is %d px wider than a 400 px window" % overflow
        driver.set_window_size(1280, 1000)
    check.step("screenshots saved; the page fits a narrow window", shots)

    def pauses_when_hidden():
        # Headless Chromium keeps every tab visible, so the page is told it is hidden the way a
        # browser would: document.hidden and a visibilitychange event.
        count = "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/v1/status')).length"
        set_hidden = """Object.defineProperty(document, 'hidden', {configurable: true, get: () => arguments[0]});
                        document.dispatchEvent(new Event('visibilitychange'));"""
        driver.execute_script(set_hidden, True)
        time.sleep(0.3)   # let a poll already under way finish
        before = driver.execute_script(count)
        time.sleep(3)
        during = driver.execute_script(count) - before
        assert during == 0, "%d status polls while hidden" % during
        assert driver.find_element(By.ID, "live").get_attribute("data-state") == "paused"
        driver.execute_script(set_hidden, False)
        wait_for(driver, "polling to resume", lambda d: d.execute_script(count) > before, 5)
        wait_for(driver, "the live indicator", lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live", 5)
    if not TOKEN:
        check.step("polling pauses while the tab is hidden and resumes when shown", pauses_when_hidden)

    def console_clean():
        logs = driver.get_log("browser")
        bad = [e["message"] for e in logs if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
        assert not bad, "script errors in the console: %s" % bad
    check.step("no script errors in the console", console_clean)


if __name__ == "__main__":
    sys.exit(main())
