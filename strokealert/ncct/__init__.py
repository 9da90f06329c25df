"""NCCT triage: intracranial haemorrhage (kind, volume, midline shift) and ASPECTS on the
unenhanced head CT, the third analysis beside perfusion (CTP) and LVO (CTA)."""
