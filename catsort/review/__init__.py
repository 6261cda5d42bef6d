"""catsort review: a local page where a person settles what the model was unsure of.

``sources`` opens what is reviewed (a library catsort sorted or tagged, or a CSV-only run's
results) as a sort session and its photos (``items``); ``review`` holds the review under way
(each decision acted on through the session, the undo stack, the corrected CSV); ``export``
writes the decisions as class folders for training; ``server`` is the page's Starlette app on
uvicorn, and ``static/`` its HTML, CSS and JavaScript.
"""
