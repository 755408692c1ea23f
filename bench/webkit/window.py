#!/usr/bin/python3
"""A plain WebKitGTK window for damage experiments (BENCHMARKS.md section 3).

Loads URL with hardware acceleration off (the path Pulseboard takes on a
machine without a GPU), optionally with CSS (EXTRA_CSS) or a script
(EXTRA_JS) injected, so a guess about what WebKit repaints can be tried
without rebuilding the app. Window size: W x H (default 1180 x 800).
Needs Debian's python3-gi and gir1.2-webkit2-4.1.
"""
import os
import sys

import gi

gi.require_version('Gtk', '3.0')
gi.require_version('WebKit2', '4.1')
from gi.repository import Gtk, WebKit2  # noqa: E402

url = sys.argv[1]
w = Gtk.Window()
w.set_default_size(int(os.environ.get('W', '1180')), int(os.environ.get('H', '800')))
ucm = WebKit2.UserContentManager()
css = os.environ.get('EXTRA_CSS')
if css:
    ucm.add_style_sheet(WebKit2.UserStyleSheet(
        css, WebKit2.UserContentInjectedFrames.ALL_FRAMES, WebKit2.UserStyleLevel.AUTHOR, None, None))
js = os.environ.get('EXTRA_JS')
if js:
    ucm.add_script(WebKit2.UserScript(
        js, WebKit2.UserContentInjectedFrames.ALL_FRAMES, WebKit2.UserScriptInjectionTime.END, None, None))
v = WebKit2.WebView.new_with_user_content_manager(ucm)
s = v.get_settings()
s.set_hardware_acceleration_policy(WebKit2.HardwareAccelerationPolicy.NEVER)
s.set_enable_write_console_messages_to_stdout(True)
w.add(v)
w.connect('destroy', Gtk.main_quit)
w.show_all()
v.load_uri(url)
Gtk.main()
