// pages/me/me.js - the profile page: the user as wxauth knows them, the
// avatar and nickname components, the phone button. Errors are shown by
// the server's name (err.error); the client has already logged in,
// refreshed and retried as needed.
const app = getApp()

Page({
  data: { user: null, phone: '', error: '' },

  show (p) {
    this.setData({ user: p.user, phone: p.user.phone_number || this.data.phone, error: '' })
  },

  fail (e) {
    this.setData({ error: e.error || String(e) })
  },

  async onLoad () {
    try {
      this.show(await app.auth.userinfo())
    } catch (e) {
      this.fail(e)
    }
  },

  // <button open-type="chooseAvatar">: a temporary local file, uploaded.
  async onChooseAvatar (e) {
    try {
      this.show(await app.auth.uploadAvatar(e.detail.avatarUrl))
    } catch (err) {
      this.fail(err)
    }
  },

  // <input type="nickname">: what the person typed or picked.
  async onNickname (e) {
    const nickname = (e.detail.value || '').trim()
    if (!nickname) return
    try {
      this.show(await app.auth.updateProfile({ nickname }))
    } catch (err) {
      this.fail(err)
    }
  },

  // <button open-type="getPhoneNumber">: a one-use code, no encryptedData.
  async onGetPhoneNumber (e) {
    if (!e.detail.code) return // the person declined
    try {
      const p = await app.auth.phone(e.detail.code)
      this.setData({ phone: p.phone_number, error: '' })
    } catch (err) {
      this.fail(err)
    }
  }
})
