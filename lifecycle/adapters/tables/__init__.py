"""Azure Table Storage through azure-data-tables: the guest store (store.py), the key scheme and row formats
(codec.py), the layout marker and its migration (layout.py, migration.py), reads across partitions (fanout.py),
shared transactions (group_commit.py), paging, the audit log, the runs, export and import."""
