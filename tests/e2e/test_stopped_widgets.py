"""Issue 27's widget defect on the pages that still stopped early, in Chromium: a widget left out of a run that
ends in st.stop() comes back in the browser at its default while the server keeps the old value (Streamlit skips
its clean-up of undrawn widgets in a stopped run). Each test checks that the box and the picture agree."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (assert_no_exception, choose_option, click_when_still, goto_page, wait_for_app_run,
                               wait_for_plot)


def test_interpolate_endpoint_index_survives_a_stop_for_a_missing_endpoint(page: Page, app_server: str):
    """Interpolate: A = test image #42, then A from "the map selection" with nothing selected (the page stopped:
    "Choose both endpoints"), then A from a test image again: the box read the default index while the strip was
    still drawn from #42."""
    goto_page(page, app_server, "interpolate")
    source_a = page.get_by_test_id("stMain").get_by_test_id("stSelectbox").first
    box = page.get_by_test_id("stNumberInput").filter(has_text="test image index").first.locator("input")
    box.fill("42")
    box.press("Enter")
    wait_for_app_run(page)
    strip = page.get_by_test_id("stImage").filter(has_text=re.compile(r" steps of "))
    expect(strip).to_contain_text("test #42 →")
    choose_option(page, source_a, "the map selection")
    wait_for_app_run(page)
    expect(page.get_by_text("Choose both endpoints.")).to_be_visible()
    choose_option(page, source_a, "a test image (by index)")
    wait_for_app_run(page)
    expect(strip).to_be_visible()
    shown = page.get_by_test_id("stNumberInput").filter(has_text="test image index").first.locator("input").input_value()
    assert strip.inner_text().startswith(f"test #{shown} →"), (shown, strip.inner_text())
    assert shown == "42", shown                        # and it is the index the person set
    assert_no_exception(page)


def test_train_hidden_layers_of_a_dataset_agree_with_the_check_after_a_look_at_another(page: Page, app_server: str):
    """Train, before any run (the page stopped after its settings): digits with hidden layers "500 abc" (refused,
    Start disabled), a look at shapes, back to digits: the box read "256 128" while the page still refused
    "500 abc" with Start disabled."""
    goto_page(page, app_server, "train")
    hidden = page.get_by_role("textbox", name="Hidden layers")
    hidden.fill("500 abc")
    hidden.press("Enter")
    wait_for_app_run(page)
    refusal = page.get_by_test_id("stAlertContentError").filter(has_text="Hidden layers")
    expect(refusal).to_be_visible()
    dataset = page.get_by_test_id("stMain").get_by_test_id("stSelectbox").filter(has_text="Dataset")
    # each pick waited for by what its run shows, the data set's own Epochs (shapes 5, digits 200): right after the
    # pick the app can still read "not running" (its rerun not begun), and the box was read before the run
    # (while a run draws, the previous run's box can still be in the page beside the new one)
    epochs_read = "(v) => { const b = document.querySelectorAll(\"input[aria-label='Epochs']\"); " \
                  "return b.length === 1 && b[0].value === v; }"
    choose_option(page, dataset, "shapes", exact=True)
    page.wait_for_function(epochs_read, arg="5")
    wait_for_app_run(page)
    choose_option(page, dataset, "digits", exact=True)
    page.wait_for_function(epochs_read, arg="200")
    wait_for_app_run(page)
    shown = page.get_by_role("textbox", name="Hidden layers").input_value()
    if re.fullmatch(r"[\d ]+", shown.strip()):      # the box shows layers that parse: nothing may refuse them
        expect(refusal).to_have_count(0)
        expect(page.get_by_role("button", name="Start")).to_be_enabled()
    else:
        expect(refusal).to_be_visible()
    assert_no_exception(page)


def test_latent_map_neighbours_source_agrees_with_its_panel_after_a_filter_that_matched_nothing(page: Page,
                                                                                                 app_server: str):
    """Latent map: neighbours of "an uploaded or drawn image", then an index filter no point matches (the page
    stopped: "No point matches"), then the filter cleared: the radio read "the map selection or click" while the
    panel below it still asked for an image to upload or draw."""
    goto_page(page, app_server, "latent_map?model=digits-2d&map=plotly")
    wait_for_plot(page.get_by_test_id("stPlotlyChart").first)
    wait_for_app_run(page)
    source = page.get_by_test_id("stRadio").filter(has_text="Neighbours of")
    click_when_still(source.get_by_text("an uploaded or drawn image"))
    wait_for_app_run(page)
    image_panel = page.get_by_test_id("stFileUploader").filter(has_text="A PNG or JPEG image")   # the image's upload
    expect(image_panel).to_be_visible()
    click_when_still(page.get_by_test_id("stExpander").filter(has_text="Search and filter").locator("summary"))
    box = page.get_by_test_id("stTextInput").filter(has_text="Indices").locator("input")
    box.fill("5000")                                  # the digits test split has 300 images
    box.press("Enter")
    wait_for_app_run(page)
    expect(page.get_by_text("No point matches the search and filter")).to_be_visible()
    expect(source).to_have_count(0)
    box.fill("")
    box.press("Enter")
    wait_for_app_run(page)
    expect(source).to_be_visible()
    image_chosen = source.locator("input[type='radio']").nth(1).is_checked()
    if image_chosen:
        expect(image_panel).to_be_visible()
    else:                                              # the radio reads "the map selection": so must the panel
        expect(page.get_by_text("Click a point, select several")).to_be_visible()
        expect(image_panel).to_have_count(0)
    assert_no_exception(page)
