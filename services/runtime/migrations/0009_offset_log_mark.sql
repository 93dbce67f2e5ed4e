-- The identity of the log a stored offset belongs to: a fingerprint of the record just before
-- it (offset, timestamp, key and value of record next_offset - 1). On assignment the consumer
-- reads that record again; a different record there, or none, is a new log (a restarted
-- memory-only broker, a topic deleted and created again), read from its start. NULL for rows
-- stored before this column existed, and for a partition whose position is its log's start.
ALTER TABLE consumer_offset ADD COLUMN log_mark bytea;
