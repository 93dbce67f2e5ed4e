-- Issue 16: production reports (98 % of events) are no longer stored one row each in
-- station_event. Per station and UTC minute, one row holds the reports counted there, as
-- four arrays of the same length, one element per report:
--
--   ids    the report's event_id as a fixed-width hash: the first 8 bytes of its MD5, as a
--          signed big-endian bigint (`services.runtime.production_minutes`, and below);
--          a report whose hash the row holds already is a duplicate and counts once;
--   at_us  its ts, in microseconds after the row's minute (0 ≤ at_us < 60 000 000);
--   good, scrap  its counts.
--
-- The processor merges a batch's reports into their rows set-wise, in one statement that
-- tells it which were new (`merge_production`); the buckets are folded from these rows as
-- they were from the rows of station_event, so every figure stays the fold of the set of
-- events. Rows are rewritten in place as reports arrive: room on the page for HOT updates,
-- and rows of a few hundred reports kept inline rather than in TOAST.
CREATE TABLE production_minute (
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
CREATE INDEX production_minute_by_line ON production_minute (factory, line, minute);

-- Every report, one row each, as station_event held them (the hash in place of the id): for
-- reads over a range of ts, which bound `minute` too so that only the rows of those minutes
-- are read (minute >= date_trunc('minute', low, 'UTC') AND minute <= high).
CREATE VIEW production_report AS
SELECT p.factory, p.line, p.station, p.minute, r.id, p.minute + r.at * interval '1 microsecond' AS ts,
       r.good, r.scrap
FROM production_minute AS p
CROSS JOIN LATERAL unnest(p.ids, p.at_us, p.good, p.scrap) AS r(id, at, good, scrap);

-- A station's latest report strictly before t, and its earliest strictly after t (null: none).
-- Every row holds at least one report, all within its minute, so the two rows nearest t are
-- enough.
CREATE FUNCTION production_before(f text, l text, s text, t timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT max(x.minute + a.at * interval '1 microsecond')
    FROM (SELECT minute, at_us FROM production_minute
          WHERE factory = f AND line = l AND station = s AND minute <= t
          ORDER BY minute DESC LIMIT 2) AS x
    CROSS JOIN LATERAL unnest(x.at_us) AS a(at)
    WHERE x.minute + a.at * interval '1 microsecond' < t
$$;

CREATE FUNCTION production_after(f text, l text, s text, t timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT min(x.minute + a.at * interval '1 microsecond')
    FROM (SELECT minute, at_us FROM production_minute
          WHERE factory = f AND line = l AND station = s
            AND minute >= date_trunc('minute', t, 'UTC')
          ORDER BY minute LIMIT 2) AS x
    CROSS JOIN LATERAL unnest(x.at_us) AS a(at)
    WHERE x.minute + a.at * interval '1 microsecond' > t
$$;

-- The stations of a line with production: a loose index scan (each next station by one probe
-- of the primary key, not every row of the line read).
CREATE FUNCTION stations_producing(f text, l text) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE s(station) AS (
        SELECT min(station) FROM production_minute WHERE factory = f AND line = l
        UNION ALL
        SELECT (SELECT min(p.station) FROM production_minute AS p
                WHERE p.factory = f AND p.line = l AND p.station > s.station)
        FROM s WHERE s.station IS NOT NULL
    )
    SELECT station FROM s WHERE station IS NOT NULL
$$;

-- The production stored so far moves over, and leaves station_event.
INSERT INTO production_minute (factory, line, station, minute, ids, at_us, good, scrap)
SELECT factory, line, station, minute, array_agg(h ORDER BY ts, event_id),
       array_agg(at_us ORDER BY ts, event_id), array_agg(good ORDER BY ts, event_id),
       array_agg(scrap ORDER BY ts, event_id)
FROM (
    SELECT factory, line, station, event_id, ts, good, scrap,
           date_trunc('minute', ts, 'UTC') AS minute,
           ('x' || left(md5(event_id), 16))::bit(64)::bigint AS h,
           extract(microseconds FROM ts - date_trunc('minute', ts, 'UTC'))::integer AS at_us
    FROM station_event WHERE kind = 'production'
) AS p
GROUP BY factory, line, station, minute;

DELETE FROM station_event WHERE kind = 'production';
