-- The events the OEE fold needs, one row per event: a repeat of an event_id on a line is a
-- duplicate and is not stored again. The processor re-reads a station's neighbouring events
-- here to recompute the minutes an event touches; queries never read them.
CREATE TABLE station_event (
    factory             text             NOT NULL,
    line                text             NOT NULL,
    event_id            text             NOT NULL,
    station             text             NOT NULL,
    kind                text             NOT NULL,  -- machine | production | order
    ts                  timestamptz      NOT NULL,
    state               text,                       -- machine
    reason              text,                       -- machine
    good                bigint,                     -- production
    scrap               bigint,                     -- production
    action              text,                       -- order
    order_id            text,                       -- order
    ideal_cycle_time_s  double precision,           -- order
    PRIMARY KEY (factory, line, event_id)
);
CREATE INDEX station_event_by_station ON station_event (factory, line, station, kind, ts);
CREATE INDEX station_event_by_line ON station_event (factory, line, kind, ts);

-- One station's figures for one whole UTC minute, schedule-independent (see the OEE core's
-- MinuteBucket). A minute with nothing known is not stored: a missing row is 60 000 ms unknown.
CREATE TABLE minute_bucket (
    factory              text             NOT NULL,
    line                 text             NOT NULL,
    station              text             NOT NULL,
    minute               timestamptz      NOT NULL,
    running_ms           integer          NOT NULL,
    idle_ms              integer          NOT NULL,
    starved_ms           integer          NOT NULL,
    blocked_ms           integer          NOT NULL,
    down_ms              integer          NOT NULL,
    setup_ms             integer          NOT NULL,
    planned_stop_ms      integer          NOT NULL,
    offline_ms           integer          NOT NULL,
    small_stop_ms        integer          NOT NULL,
    unknown_ms           integer          NOT NULL,
    total_count          bigint           NOT NULL,
    good_count           bigint           NOT NULL,
    scrap_count          bigint           NOT NULL,
    startup_scrap        bigint           NOT NULL,
    ideal_time_s         double precision NOT NULL,
    count_without_ideal  bigint           NOT NULL,
    down_by_reason       jsonb            NOT NULL DEFAULT '{}'::jsonb,  -- {reason: ms}
    PRIMARY KEY (factory, line, station, minute)
);
