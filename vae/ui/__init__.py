"""Streamlit glue for the explorer: cached loaders, session state, the sidebar, figures, widgets.

The only part of `vae` that imports Streamlit. Pages call these; these call the library.

    sidebar.draw_sidebar() -> AppContext      model, dataset and device chosen in the sidebar
    sidebar.current() -> AppContext           the same, from a page
    loaders                                   st.cache_resource / st.cache_data wrappers, keyed by identity
    state                                     per-browser id, the map selection, the Decode point
    training                                  the process-wide registry of TrainingJobs
    figures                                   Plotly figures (latent map, training curves)
    images                                    crisp upscaled images (nearest neighbour)
    controls                                  latent_controls: one slider per latent dimension
"""
