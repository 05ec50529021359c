# Audio helpers that are not codecs: tone generation and tone measurement.
