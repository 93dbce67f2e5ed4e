-- Material replenishment kanban cards (issue 6). The floor-state processor raises a card when a
-- material's quantity on hand falls to its reorder point (the line's settings, `materials`);
-- the warehouse advances it requested -> in_transit -> delivered through the API, and a later
-- `replenished` material event closes it.
--
-- A card asks for one container. Where the quantity is further below the reorder point, slot n
-- is raised once it is (n - 1) containers below it; the partial unique index keeps at most one
-- open card per (factory, line, material_id, slot), so raising is an INSERT ... ON CONFLICT DO
-- NOTHING, idempotent on a re-applied batch. Slot 1 alone means one open card per material.
CREATE TABLE kanban_card (
    id               bigserial        PRIMARY KEY,
    factory          text             NOT NULL,
    line             text             NOT NULL,
    material_id      text             NOT NULL,
    slot             integer          NOT NULL CHECK (slot >= 1),
    quantity         double precision NOT NULL,  -- the container quantity asked for
    status           text             NOT NULL DEFAULT 'requested'
                     CHECK (status IN ('requested', 'in_transit', 'delivered', 'closed')),
    raised_at        timestamptz      NOT NULL,  -- ts of the material event that raised it
    raised_event_id  text             NOT NULL,
    updated_at       timestamptz      NOT NULL,  -- raised, advanced (wall clock) or closed
    closed_at        timestamptz,                -- ts of the replenished event that closed it
    closed_event_id  text,
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE UNIQUE INDEX kanban_card_open ON kanban_card (factory, line, material_id, slot)
    WHERE status <> 'closed';
CREATE INDEX kanban_card_by_factory ON kanban_card (factory, status, raised_at);
