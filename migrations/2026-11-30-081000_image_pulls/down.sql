DROP TABLE image_pulls;
