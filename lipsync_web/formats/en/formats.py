"""One way to write dates and times, in the app and the review panel alike.

Pages write them so on the server; static/js/dates.js then shows each <time data-when> in the
reader's own locale and time zone, with the exact moment on hover.
"""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
