-- One station's stored minute buckets of one whole UTC hour, summed column by column (issue 9):
-- a range's whole hours are read here, 60 times fewer rows than minute_bucket. An hour row
-- exists exactly when the hour has a minute row; down_by_reason is summed per reason. The
-- efficiency processor keeps it exact in the transaction that replaces the minutes
-- (`efficiency.rollup.refresh_hours`); readers rely on that and never fall back.
--
-- ideal_time_s is the one float of a bucket. Summed as float8, an hour's sum then a range's
-- would differ in the last bits from the range's minutes summed one by one. So it is summed
-- exactly: each minute's value as its shortest decimal (float8 -> text -> numeric), summed
-- as numeric, and readers turn the range's numeric sum into float8 once. Any grouping of
-- the same minutes then gives the same bits.
CREATE TABLE hour_bucket (
    factory              text             NOT NULL,
    line                 text             NOT NULL,
    station              text             NOT NULL,
    hour                 timestamptz      NOT NULL CHECK (date_trunc('hour', hour, 'UTC') = hour),
    running_ms           bigint           NOT NULL,
    idle_ms              bigint           NOT NULL,
    starved_ms           bigint           NOT NULL,
    blocked_ms           bigint           NOT NULL,
    down_ms              bigint           NOT NULL,
    setup_ms             bigint           NOT NULL,
    planned_stop_ms      bigint           NOT NULL,
    offline_ms           bigint           NOT NULL,
    small_stop_ms        bigint           NOT NULL,
    unknown_ms           bigint           NOT NULL,
    total_count          bigint           NOT NULL,
    good_count           bigint           NOT NULL,
    scrap_count          bigint           NOT NULL,
    startup_scrap        bigint           NOT NULL,
    ideal_time_s         numeric          NOT NULL,  -- exact: see below
    count_without_ideal  bigint           NOT NULL,
    down_by_reason       jsonb            NOT NULL DEFAULT '{}'::jsonb,  -- {reason: ms}
    PRIMARY KEY (factory, line, station, hour)
);

-- The hours of the minutes stored before this migration (the same sums as refresh_hours).
INSERT INTO hour_bucket
SELECT b.factory, b.line, b.station, date_trunc('hour', b.minute, 'UTC'),
       sum(b.running_ms), sum(b.idle_ms), sum(b.starved_ms), sum(b.blocked_ms),
       sum(b.down_ms), sum(b.setup_ms), sum(b.planned_stop_ms), sum(b.offline_ms),
       sum(b.small_stop_ms), sum(b.unknown_ms), sum(b.total_count), sum(b.good_count),
       sum(b.scrap_count), sum(b.startup_scrap), sum(b.ideal_time_s::text::numeric),
       sum(b.count_without_ideal),
       coalesce((SELECT jsonb_object_agg(r.key, r.ms ORDER BY r.key)
                 FROM (SELECT e.key, sum(e.value::bigint) AS ms
                       FROM jsonb_array_elements(
                           jsonb_agg(b.down_by_reason) FILTER (WHERE b.down_by_reason <> '{}')) AS x(reasons),
                            jsonb_each_text(x.reasons) AS e
                       GROUP BY e.key) AS r), '{}'::jsonb)
FROM minute_bucket AS b
GROUP BY b.factory, b.line, b.station, date_trunc('hour', b.minute, 'UTC');
