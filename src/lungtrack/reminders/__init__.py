"""Reminders: what is due for each patient, snoozes, the iCalendar export and the crontab line.

* :mod:`lungtrack.reminders.remind` - pure: turns the rules' due items, findings and snoozes
  into reminder lines (no store, no clock: "today" is a parameter).
* :mod:`lungtrack.reminders.ics` - the RFC 5545 calendar (``icalendar`` library).
* :mod:`lungtrack.reminders.crontab` - the ready-to-paste crontab line.

Nothing here writes future rows: every due date is computed from the last event that
happened (see :mod:`lungtrack.core.timing`), so re-running never duplicates anything.
"""
