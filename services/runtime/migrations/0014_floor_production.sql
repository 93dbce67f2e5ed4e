-- Issue 16, the floor-state processor's side: production reports (98 % of events) are no
-- longer stored one row each in floor_event, as 0013 did for the efficiency processor's
-- station_event. Each processor owns its tables, so the floor-state processor gets a table of
-- its own, of the same shape as production_minute: per station and UTC minute, one row holds
-- the reports counted there, as four arrays of the same length, one element per report:
--
--   ids    the report's event_id as a fixed-width hash: the first 8 bytes of its MD5, as a
--          signed big-endian bigint (`services.runtime.production_minutes`, and below); a report
--          whose hash the row holds already is a duplicate and counts once;
--   at_us  its ts, in microseconds after the row's minute (0 ≤ at_us < 60 000 000);
--   good, scrap  its counts.
--
-- The processor merges a batch's reports into their rows set-wise, in one statement that
-- tells it which were new and adds those to the work orders covering their ts
-- (`services.floor.store.merge_production`); an order whose span changes is recounted from
-- these rows as it was from floor_event's. Rows are rewritten in place as reports arrive: room
-- on the page for HOT updates, and rows of a few hundred reports kept inline rather than in
-- TOAST.
CREATE TABLE floor_production_minute (
    factory  text         NOT NULL,
    line     text         NOT NULL,
    station  text         NOT NULL,
    minute   timestamptz  NOT NULL,
    ids      bigint[]     NOT NULL,
    at_us    integer[]    NOT NULL,
    good     bigint[]     NOT NULL,
    scrap    bigint[]     NOT NULL,
    PRIMARY KEY (factory, line, station, minute),
    CHECK (cardinality(ids) > 0 AND cardinality(ids) = cardinality(at_us)
           AND cardinality(ids) = cardinality(good) AND cardinality(ids) = cardinality(scrap))
) WITH (fillfactor = 70, toast_tuple_target = 8160);
-- An order's recount reads every station of its line over its span.
CREATE INDEX floor_production_minute_by_line ON floor_production_minute (factory, line, minute);

-- Every report, one row each, as floor_event held them (the hash in place of the id): for
-- reads over a range of ts, which bound `minute` too so that only the rows of those minutes
-- are read (minute >= date_trunc('minute', low, 'UTC') AND minute < high).
CREATE VIEW floor_production_report AS
SELECT p.factory, p.line, p.station, p.minute, r.id, p.minute + r.at * interval '1 microsecond' AS ts,
       r.good, r.scrap
FROM floor_production_minute AS p
CROSS JOIN LATERAL unnest(p.ids, p.at_us, p.good, p.scrap) AS r(id, at, good, scrap);

-- The production stored so far moves over, and leaves floor_event.
INSERT INTO floor_production_minute (factory, line, station, minute, ids, at_us, good, scrap)
SELECT factory, line, station, minute, array_agg(h ORDER BY ts, event_id),
       array_agg(at_us ORDER BY ts, event_id), array_agg(good ORDER BY ts, event_id),
       array_agg(scrap ORDER BY ts, event_id)
FROM (
    SELECT factory, line, station, event_id, ts, good, scrap,
           date_trunc('minute', ts, 'UTC') AS minute,
           ('x' || left(md5(event_id), 16))::bit(64)::bigint AS h,
           extract(microseconds FROM ts - date_trunc('minute', ts, 'UTC'))::integer AS at_us
    FROM floor_event WHERE kind = 'production'
) AS p
GROUP BY factory, line, station, minute;

DELETE FROM floor_event WHERE kind = 'production';
