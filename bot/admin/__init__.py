"""Staff administration at `/admin`: the knowledge editor with revisions and review dates, the
unanswered-question inbox, import and export, analytics, the bottleneck report, accounts and the
audit log. Same login as the console; roles `staff` and `admin`."""
