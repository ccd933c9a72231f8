-- The Kubernetes image pull lock (K8S_IMAGE_PULL_LOCK_ENABLED): one row per bot image. The first
-- bot to need an image records its Job here and pulls; the others wait until its pod has the
-- image (pulled_at), so a multi-GB image is pulled once, not by every bot at once. In the
-- database so it holds across replicas.
CREATE TABLE image_pulls (
    image TEXT PRIMARY KEY,
    job_name TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    pulled_at TIMESTAMPTZ
);
