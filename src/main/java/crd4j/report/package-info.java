/**
 * Evaluation runs and their reports, above {@code crd4j.detect} and {@code crd4j.eval}: {@link crd4j.report.Evaluation}
 * scores one category's test split with a {@link crd4j.detect.Detector} and computes the §9 metrics (the library form
 * of {@code crd eval}), writes {@code metrics.json}, the maps and the self-contained {@code report.html}
 * ({@link crd4j.report.CategoryReport}: metrics table, ROC and PRO charts drawn with Java2D, sample panels ordered by
 * {@link crd4j.report.MissRanking}); {@link crd4j.report.CategoryTable} is the several-category table with its mean row.
 */
package crd4j.report;
