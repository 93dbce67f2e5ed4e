-- The efficiency processor's silences: per station, the gaps between its events (of any kind)
-- longer than its line's stale_after_s, each as [start, end): from stale_after_s after the
-- earlier event to the later one. Their time counts as downtime with the reason no_signal
-- (the OEE core's timeline, rule 4), in the minute buckets and in the downtime and timeline
-- calls alike. Only closed gaps are stored: the one after a station's last event is open,
-- and the API adds it up to now. Derived from station_event, so kept as long as it is.
--
-- Not backfilled: time before this migration has no silences, in the stored buckets and in
-- the calls that read this table alike, so the two still agree there.
CREATE TABLE station_silence (
    factory   text         NOT NULL,
    line      text         NOT NULL,
    station   text         NOT NULL,
    start     timestamptz  NOT NULL,
    "end"     timestamptz  NOT NULL,
    PRIMARY KEY (factory, line, station, start),
    CHECK ("end" > start)
);
