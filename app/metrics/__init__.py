"""What operations watch: Prometheus series (``series``), the HTTP middleware that feeds them (``http``), the
database's state read at scrape time (``database``), and the port that serves them all (``exposition``).

Under ``tousu serve --workers N`` the series are kept in prometheus_client's multiprocess mode: each worker writes
its own files in ``PROMETHEUS_MULTIPROC_DIR`` and one scrape adds them up.
"""
