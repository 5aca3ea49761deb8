-- Head's schema for a new SQLite database, as the migrations leave it.
-- Written by: python -m db.migrations.sqlite_schema (do not edit by hand).

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE colorways (
	id INTEGER NOT NULL, 
	style_code VARCHAR(32) NOT NULL, 
	name VARCHAR NOT NULL, 
	line VARCHAR NOT NULL, 
	list_prices JSON NOT NULL, 
	target_prices JSON NOT NULL, 
	sizes JSON NOT NULL, 
	release_date DATE, 
	watched BOOLEAN NOT NULL, 
	image VARCHAR, 
	in_config BOOLEAN NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE sources (
	id INTEGER NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	url VARCHAR NOT NULL, 
	enabled BOOLEAN NOT NULL, 
	consecutive_failures INTEGER NOT NULL, 
	broken BOOLEAN NOT NULL, 
	last_checked_at DATETIME, 
	last_status VARCHAR, 
	baseline_done BOOLEAN NOT NULL, 
	http_cache JSON NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE check_runs (
	id INTEGER NOT NULL, 
	source_id INTEGER NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	status VARCHAR NOT NULL, 
	duration_ms INTEGER, 
	bytes INTEGER NOT NULL, 
	requests INTEGER NOT NULL, 
	not_modified INTEGER NOT NULL, 
	http_status INTEGER, 
	listings_seen INTEGER NOT NULL, 
	observations_written INTEGER NOT NULL, 
	events_created INTEGER NOT NULL, 
	error VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(source_id) REFERENCES sources (id)
);

CREATE TABLE listings (
	id INTEGER NOT NULL, 
	source_id INTEGER NOT NULL, 
	colorway_id INTEGER, 
	external_id VARCHAR(512) NOT NULL, 
	url VARCHAR NOT NULL, 
	title VARCHAR, 
	style_code VARCHAR(32), 
	image VARCHAR, 
	match_method VARCHAR, 
	discovered BOOLEAN NOT NULL, 
	first_seen_at DATETIME NOT NULL, 
	last_checked_at DATETIME NOT NULL, 
	last_observation_id INTEGER, 
	etag VARCHAR, 
	last_modified VARCHAR, 
	gone BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(colorway_id) REFERENCES colorways (id), 
	FOREIGN KEY(source_id) REFERENCES sources (id), 
	CONSTRAINT uq_listing_source_external UNIQUE (source_id, external_id)
);

CREATE TABLE observations (
	id INTEGER NOT NULL, 
	listing_id INTEGER NOT NULL, 
	run_id INTEGER, 
	observed_at DATETIME NOT NULL, 
	price VARCHAR(32), 
	currency VARCHAR(3), 
	compare_at VARCHAR(32), 
	availability VARCHAR NOT NULL, 
	sizes JSON NOT NULL, 
	suspect BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(listing_id) REFERENCES listings (id), 
	FOREIGN KEY(run_id) REFERENCES check_runs (id)
);

CREATE TABLE events (
	id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	kind VARCHAR NOT NULL, 
	source_id INTEGER, 
	listing_id INTEGER, 
	colorway_id INTEGER, 
	observation_id INTEGER, 
	message VARCHAR NOT NULL, 
	data JSON NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(colorway_id) REFERENCES colorways (id), 
	FOREIGN KEY(listing_id) REFERENCES listings (id), 
	FOREIGN KEY(observation_id) REFERENCES observations (id), 
	FOREIGN KEY(source_id) REFERENCES sources (id)
);

CREATE TABLE deliveries (
	id INTEGER NOT NULL, 
	event_id INTEGER NOT NULL, 
	channel VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at DATETIME NOT NULL, 
	claimed_at DATETIME, 
	claim_token VARCHAR, 
	sent_at DATETIME, 
	last_error VARCHAR, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(event_id) REFERENCES events (id), 
	CONSTRAINT uq_delivery_event_channel UNIQUE (event_id, channel)
);

CREATE TABLE "release_changes" (
	id INTEGER NOT NULL, 
	release_id INTEGER NOT NULL, 
	changed_at DATETIME NOT NULL, 
	old_date DATE, 
	new_date DATE, 
	source_name VARCHAR, 
	applied BOOLEAN DEFAULT 1 NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(release_id) REFERENCES releases (id)
);

CREATE TABLE "releases" (
	id INTEGER NOT NULL, 
	colorway_id INTEGER, 
	style_code VARCHAR(32) NOT NULL, 
	name VARCHAR, 
	region VARCHAR NOT NULL, 
	release_date DATE, 
	release_at DATETIME, 
	timezone VARCHAR, 
	price VARCHAR(32), 
	currency VARCHAR, 
	source_name VARCHAR, 
	url VARCHAR, 
	live BOOLEAN NOT NULL, 
	updated_at DATETIME NOT NULL, 
	pinned BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_release_style_region UNIQUE (style_code, region), 
	FOREIGN KEY(colorway_id) REFERENCES colorways (id)
);

CREATE TABLE digest_runs (
	id INTEGER NOT NULL, 
	period DATE NOT NULL, 
	event_id INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(event_id) REFERENCES events (id), 
	UNIQUE (period)
);

CREATE TABLE inbox_messages (
	id INTEGER NOT NULL, 
	"key" VARCHAR(200) NOT NULL, 
	channel VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	event_id INTEGER, 
	event_ids JSON NOT NULL, 
	title VARCHAR NOT NULL, 
	body VARCHAR NOT NULL, 
	link VARCHAR, 
	image VARCHAR, 
	created_at DATETIME NOT NULL, 
	read_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(event_id) REFERENCES events (id), 
	UNIQUE ("key")
);

CREATE UNIQUE INDEX ix_colorways_style_code ON colorways (style_code);

CREATE UNIQUE INDEX ix_sources_name ON sources (name);

CREATE INDEX ix_check_runs_source_id ON check_runs (source_id);

CREATE INDEX ix_check_runs_started_at ON check_runs (started_at);

CREATE INDEX ix_listings_colorway_id ON listings (colorway_id);

CREATE INDEX ix_listings_source_id ON listings (source_id);

CREATE INDEX ix_listings_style_code ON listings (style_code);

CREATE INDEX ix_observations_listing_id ON observations (listing_id);

CREATE INDEX ix_observations_observed_at ON observations (observed_at);

CREATE INDEX ix_events_colorway_id ON events (colorway_id);

CREATE INDEX ix_events_created_at ON events (created_at);

CREATE INDEX ix_events_kind ON events (kind);

CREATE INDEX ix_events_listing_id ON events (listing_id);

CREATE INDEX ix_deliveries_event_id ON deliveries (event_id);

CREATE INDEX ix_deliveries_status ON deliveries (status);

CREATE INDEX ix_check_runs_source_started ON check_runs (source_id, started_at);

CREATE INDEX ix_release_changes_release_id ON release_changes (release_id);

CREATE INDEX ix_releases_style_code ON releases (style_code);

CREATE INDEX ix_inbox_messages_created_at ON inbox_messages (created_at);

CREATE INDEX ix_inbox_messages_read_at ON inbox_messages (read_at);

CREATE INDEX ix_deliveries_created ON deliveries (created_at, id);

CREATE INDEX ix_events_colorway_created ON events (colorway_id, created_at, id);

CREATE INDEX ix_observations_prices ON observations (listing_id, observed_at, id, price, currency, availability, suspect);

CREATE INDEX ix_observations_suspect ON observations (id, listing_id, suspect) WHERE suspect = 1;

INSERT INTO alembic_version (version_num) VALUES ('f4c1a9e2b7d3');
