/// What users look at: text-to-image search over an image collection,
/// drawing (a built-in bitmap font, line plots, labelled contact sheets) and
/// the Markdown report of training runs.
@_exported import ConaclipData
