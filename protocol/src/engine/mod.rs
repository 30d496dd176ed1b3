//! Engine.IO v4/v3 codecs. STUB: being implemented (helper A).
