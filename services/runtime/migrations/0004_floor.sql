-- The live floor state, kept by the floor-state processor (consumer group floorstream-floor).
-- Every row is a function of the set of events applied, whatever their order of arrival: a
-- newer event by (ts, event_id) replaces an older one, never the other way round.

-- The events the floor-state processor has applied, one row per event: a repeat of an
-- event_id on a line is applied once. Material and production rows are re-read to recompute a
-- stock or an order's counts when a late event lands. Deleted after the retention period.
CREATE TABLE floor_event (
    factory      text             NOT NULL,
    line         text             NOT NULL,
    event_id     text             NOT NULL,
    station      text             NOT NULL,
    kind         text             NOT NULL,
    ts           timestamptz      NOT NULL,
    action       text,                        -- people | material | order
    material_id  text,                        -- material
    quantity     double precision,            -- material
    unit         text,                        -- material
    good         bigint,                      -- production
    scrap        bigint,                      -- production
    PRIMARY KEY (factory, line, event_id)
);
CREATE INDEX floor_event_by_kind ON floor_event (factory, line, kind, ts);
CREATE INDEX floor_event_by_material ON floor_event (factory, line, material_id, ts)
    WHERE kind = 'material';
CREATE INDEX floor_event_by_ts ON floor_event (ts);

-- Each station now: its state from its latest machine event, and when it was last heard of.
CREATE TABLE station_state (
    factory         text        NOT NULL,
    line            text        NOT NULL,
    station         text        NOT NULL,
    state           text,                   -- null until the station's first machine event
    reason          text,
    since           timestamptz,            -- ts of that machine event
    state_event_id  text,
    last_seen       timestamptz NOT NULL,   -- the greatest ts of any event of the station
    PRIMARY KEY (factory, line, station)
);

-- Each operator's latest people event on a line: present while it is a check_in.
CREATE TABLE operator_presence (
    factory      text        NOT NULL,
    line         text        NOT NULL,
    operator_id  text        NOT NULL,
    station      text        NOT NULL,
    role         text,
    action       text        NOT NULL,      -- check_in | check_out
    ts           timestamptz NOT NULL,
    event_id     text        NOT NULL,
    PRIMARY KEY (factory, line, operator_id)
);

-- Each material at a line: the quantity on hand is its latest `level` plus what was loaded or
-- replenished after it; a shortage holds from a `shortage` event until a later `replenished`.
CREATE TABLE material_stock (
    factory          text             NOT NULL,
    line             text             NOT NULL,
    material_id      text             NOT NULL,
    station          text             NOT NULL,
    unit             text,
    quantity         double precision,          -- null until a level is known
    level_ts         timestamptz,               -- the latest level event
    level_event_id   text,
    last_ts          timestamptz      NOT NULL, -- the latest event of the material
    consumed         double precision,          -- as last reported by a `consumed` event
    shortage         boolean          NOT NULL DEFAULT false,
    status_ts        timestamptz,               -- the latest shortage or replenished event
    status_event_id  text,
    PRIMARY KEY (factory, line, material_id)
);

-- Work orders from `order` events, with the parts made while each ran, per station.
CREATE TABLE work_order (
    factory             text             NOT NULL,
    line                text             NOT NULL,
    order_id            text             NOT NULL,
    product_id          text,
    target_quantity     bigint,
    ideal_cycle_time_s  double precision,
    started_at          timestamptz,               -- the latest start event
    start_event_id      text,
    ended_at            timestamptz,               -- the latest end event after the start
    end_event_id        text,
    good_by_station     jsonb            NOT NULL DEFAULT '{}'::jsonb,  -- {station: parts}
    scrap_by_station    jsonb            NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (factory, line, order_id)
);
CREATE INDEX work_order_by_start ON work_order (factory, line, started_at);
