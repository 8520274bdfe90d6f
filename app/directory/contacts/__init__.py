"""The people escalations reach, by position: contacts of a store, a department, a region or the company."""
